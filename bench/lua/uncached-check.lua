-- The consent check of a fresh random subject on every request: every lookup misses the cache.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local site, key = os.getenv("BENCH_SITE"), os.getenv("BENCH_CHECK_KEY")
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local headers

function init(args)
  seed_random()
  headers = { ["Authorization"] = "Bearer " .. key }
end

function request()
  local id = {}
  for i = 1, 22 do
    local n = math.random(64)
    id[i] = alphabet:sub(n, n)
  end
  return wrk.format("GET", "/v1/sites/" .. site .. "/subjects/sub_" .. table.concat(id) .. "/consent?purpose=analytics", headers)
end
