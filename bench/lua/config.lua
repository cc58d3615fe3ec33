-- GET config as the snippet's callers ask for it (gzip accepted).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
wrk.path = "/v1/sites/" .. os.getenv("BENCH_SITE") .. "/config"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
