-- The cached check on two instances of one deployment (bench/pair): wrk's threads take turns between the two
-- instances' addresses (BENCH_PAIR_PORTS="first second"), so each instance answers its share from its own memory.
dofile(os.getenv("BENCH_LUA") .. "/cached-check.lua")
local setup_thread, addresses, threads = setup, nil, 0

function setup(thread)
  setup_thread(thread)
  if not addresses then
    addresses = {}
    for port in os.getenv("BENCH_PAIR_PORTS"):gmatch("%d+") do
      addresses[#addresses + 1] = wrk.lookup("127.0.0.1", port)[1]
    end
  end
  threads = threads + 1
  thread.addr = addresses[(threads - 1) % #addresses + 1]
end
