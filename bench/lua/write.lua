-- A visitor's decision as the snippet posts it (text/plain, no key): a new subject each time.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local site = os.getenv("BENCH_SITE")
local methods = { "accept_all", "reject_all" }
local requests = {}

function init(args)
  seed_random()
  for _, method in ipairs(methods) do
    local body = '{"policyVersion":1,"method":"' .. method .. '","source":{"url":"https://bench.example/shop","locale":"en"}}'
    requests[#requests + 1] = wrk.format("POST", "/v1/sites/" .. site .. "/consents",
      { ["Content-Type"] = "text/plain;charset=UTF-8", ["Origin"] = "https://bench.example" }, body)
  end
end

function request()
  return requests[math.random(#requests)]
end
