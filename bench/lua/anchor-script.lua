-- The floor for the script scenario: the bare minimal API answering with as many bytes (from memory) as script's Brotli body.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
wrk.path = "/bytes/" .. os.getenv("BENCH_SCRIPT_BYTES")
