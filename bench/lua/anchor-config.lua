-- The floor for the config scenario: the bare minimal API answering with as many bytes (from memory) as config's Brotli body.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
wrk.path = "/bytes/" .. os.getenv("BENCH_CONFIG_BYTES")
