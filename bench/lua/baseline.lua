-- GET /health/live: the plain endpoint every other scenario is compared with.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
wrk.path = "/health/live"
