#!/usr/bin/env bash
# Runs every test suite of ConsentService and ends with one line: "N passed, N failed, N skipped".
# Installs what the suites need first, so it works on a fresh machine with the .NET SDK, node and apt.
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

passed=0 failed=0 skipped=0 broken=0
results=$(mktemp -d)

# Adds one suite's counts to the totals.
count() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3)); }

echo "== .NET: restore and build"
if ! dotnet build ConsentService.sln -c Debug -nologo; then
  echo "build failed"
  broken=1
else
  echo "== .NET: API, store contract and unit tests"
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
    count "$(attr passed)" "$(( $(attr failed) + $(attr error) + $(attr timeout) + $(attr aborted) ))" "$(attr notExecuted)"
  fi
fi

rm -rf "$results"
[ "$broken" -eq 0 ] || failed=$((failed + 1))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
