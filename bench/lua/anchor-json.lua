-- The floor every ratio is taken against: GET /json of the bare minimal API (an object from memory, serialised).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
wrk.path = "/json"
