-- GET consent.js as a browser asks for it (gzip accepted).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
wrk.path = "/v1/sites/" .. os.getenv("BENCH_SITE") .. "/consent.js"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
