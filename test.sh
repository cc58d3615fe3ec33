#!/usr/bin/env bash
# Runs every test suite of ConsentService and ends with one line: "N passed, N failed, N skipped".
# Installs what the suites need first (redis-server, chromium, npm packages), so it works on a fresh
# machine with only the .NET SDK, node and apt.
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DEBIAN_FRONTEND=noninteractive

passed=0 failed=0 skipped=0 broken=0
results=$(mktemp -d)
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done; rm -rf "$results"' EXIT

# Adds one suite's counts to the totals.
count() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3)); }

source "scripts/need-apt.sh"

echo "== setup: system packages"
if ! need_apt redis-server:redis-server chromium:chromium sqlite3:sqlite3; then
  echo "could not install the system packages the tests need"
  broken=1
fi

# A private Redis on loopback for the cache tests; its address reaches the tests through the environment.
if command -v redis-server >/dev/null 2>&1; then
  redis_port=$(( 20000 + RANDOM % 20000 ))
  redis_dir=$(mktemp -d)
  if redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize yes \
      --dir "$redis_dir" --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"; then
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export CONSENT_TEST_REDIS="127.0.0.1:$redis_port"
    cleanup+=("redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1; rm -rf '$redis_dir'")
    echo "== setup: redis-server on $CONSENT_TEST_REDIS"
  else
    echo "redis-server did not start"
    broken=1
  fi
fi

echo "== .NET: restore and build"
if ! dotnet build ConsentService.sln -c Debug -nologo; then
  echo "build failed"
  broken=1
else
  echo "== .NET: API, store contract, cache and unit tests"
  dotnet test ConsentService.sln --no-build -c Debug -nologo --logger "trx;LogFileName=dotnet.trx" --results-directory "$results" \
    || true
  trx=$(find "$results" -name '*.trx' | head -n 1)
  if [ -z "$trx" ]; then
    echo "the .NET test run left no results"
    broken=1
  else
    # <Counters total=".." executed=".." passed=".." failed=".." ... notExecuted="..">
    counters=$(grep -o '<Counters [^>]*>' "$trx")
    attr() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
    # Skipped tests are counted in total but not in executed (notExecuted stays 0).
    count "$(attr passed)" "$(( $(attr failed) + $(attr error) + $(attr timeout) + $(attr aborted) ))" "$(( $(attr total) - $(attr executed) ))"
  fi
fi

# Runs one node --test suite (TAP) and adds its counts. A suite that cannot run, or that ends
# badly without a failing test to show for it, counts as one failure.
# Usage: [SUITE_DIR=console] node_suite NAME NODE-TEST-ARGS...   (the folder defaults to client-snippet)
node_suite() {
  local name=$1 out="$results/$1.tap" status dir=${SUITE_DIR:-client-snippet}
  shift
  echo "== $dir: $name tests"
  (cd "$dir" && timeout 1200 node --test --test-reporter=tap "$@" </dev/null) >"$out" 2>&1
  status=$?
  grep -E '^(not )?ok |^# (tests|pass|fail|cancelled|skipped|todo) ' "$out"
  local pass fail cancelled skip todo
  pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -n 1)
  fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -n 1)
  cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$out" | tail -n 1)
  skip=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$out" | tail -n 1)
  todo=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$out" | tail -n 1)
  if [ -z "$pass" ] || [ -z "$fail" ]; then
    echo "the $name suite did not run (exit $status):"
    tail -n 40 "$out"
    count 0 1 0
    return
  fi
  fail=$((fail + ${cancelled:-0}))
  if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "the $name suite exited with $status:"
    tail -n 40 "$out"
    fail=1
  elif [ "$fail" -gt 0 ]; then
    grep -A 30 '^not ok ' "$out" | head -n 200
  fi
  count "$pass" "$fail" "$(( ${skip:-0} + ${todo:-0} ))"
}

echo "== snippet: npm ci"
if (cd client-snippet && CI=true npm ci --no-audit --no-fund </dev/null); then
  node_suite unit tests/unit/
  # The real service (the build above) in Debian's Chromium; pages served from a second loopback origin.
  node_suite browser --test-concurrency=1 tests/browser/
else
  echo "npm ci failed: the snippet's unit and browser suites cannot run"
  count 0 2 0
fi

echo "== console: npm ci"
if (cd console && CI=true npm ci --no-audit --no-fund </dev/null); then
  SUITE_DIR=console node_suite console-unit tests/unit/
  # The console in Chromium against the real service (it reuses the snippet's harness and its playwright-core).
  SUITE_DIR=console node_suite console-browser --test-concurrency=1 tests/browser/
else
  echo "npm ci failed: the console's unit and browser suites cannot run"
  count 0 2 0
fi

[ "$broken" -eq 0 ] || failed=$((failed + 1))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
