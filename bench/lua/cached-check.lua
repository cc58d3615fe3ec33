-- The consent check of a subject whose record is in the cache: one of the seeded subjects at random.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local site, key = os.getenv("BENCH_SITE"), os.getenv("BENCH_CHECK_KEY")
local requests = {}

function init(args)
  seed_random()
  local headers = { ["Authorization"] = "Bearer " .. key }
  for subject in io.lines(os.getenv("BENCH_SUBJECTS")) do
    requests[#requests + 1] = wrk.format("GET", "/v1/sites/" .. site .. "/subjects/" .. subject .. "/consent?purpose=analytics", headers)
  end
end

function request()
  return requests[math.random(#requests)]
end
