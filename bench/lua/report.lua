-- Shared by every scenario: each thread gets its own random seed, and done() prints one
-- parseable line: "RESULT requests seconds rps p50_ms p99_ms errors".
local threads_made = 0
function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_number", threads_made)
end

function seed_random()
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919 + math.floor(os.clock() * 1000000))
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1000000
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format("RESULT %d %.3f %.1f %.3f %.3f %d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
