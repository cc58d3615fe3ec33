-- A write burst after a material policy change: returning visitors (seeded subjects, each proving its
-- id with its write secret) re-consenting to the new version at once. Each post appends to an existing
-- chain: the subject's key, head and secret are read, the chain's end found, the record chained to it.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local site = os.getenv("BENCH_SITE")
local version = os.getenv("BENCH_MATERIAL_VERSION") or "2"
local methods = { "accept_all", "reject_all" }
local returning = {}

function init(args)
  seed_random()
  for line in io.lines(os.getenv("BENCH_RETURNING")) do
    local id, secret = line:match("^(%S+) (%S+)$")
    if id then returning[#returning + 1] = { id, secret } end
  end
end

function request()
  local who = returning[math.random(#returning)]
  local body = '{"subjectId":"' .. who[1] .. '","subjectSecret":"' .. who[2] .. '","policyVersion":' .. version ..
    ',"method":"' .. methods[math.random(#methods)] .. '","source":{"url":"https://bench.example/shop","locale":"en"}}'
  return wrk.format("POST", "/v1/sites/" .. site .. "/consents",
    { ["Content-Type"] = "text/plain;charset=UTF-8", ["Origin"] = "https://bench.example" }, body)
end
