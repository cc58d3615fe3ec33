-- The floor, plain: GET /plain of the bare minimal API (bench/anchor).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
wrk.path = "/plain"
