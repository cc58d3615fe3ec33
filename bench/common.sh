# Shared by bench/run and bench/export-memory: system packages, a Release build, a private
# redis-server and the service on loopback. Source it; it sets BENCH_* variables and cleans up on exit.
set -euo pipefail
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DEBIAN_FRONTEND=noninteractive

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
DLL="$REPO/src/ConsentService/bin/Release/net10.0/ConsentService.dll"
OPERATOR_KEY="cso_bench-operator-key-0123456789abcdef"
WORK=$(mktemp -d /tmp/consent-bench.XXXXXX)
SERVICE_PID="" REDIS_PORT="" BASE="" ANCHOR_PID="" ANCHOR="" PAIR_PID="" PAIR_REDIS_PORT=""
ANCHOR_DLL="$BENCH_DIR/anchor/bin/Release/net10.0/Anchor.dll"
PAIR_DLL="$BENCH_DIR/pair/bin/Release/net10.0/Pair.dll"

cleanup() {
  [ -n "$SERVICE_PID" ] && kill "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
  [ -n "$ANCHOR_PID" ] && kill "$ANCHOR_PID" 2>/dev/null && wait "$ANCHOR_PID" 2>/dev/null
  [ -n "$PAIR_PID" ] && kill "$PAIR_PID" 2>/dev/null && wait "$PAIR_PID" 2>/dev/null
  for port in $REDIS_PORT $PAIR_REDIS_PORT; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$REPO/scripts/need-apt.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

build_release() {
  echo "== build: Release (service, the bare anchor, the two-instance host)"
  { dotnet build "$REPO/src/ConsentService" -c Release -nologo -v quiet -p:CI=true \
      && dotnet build "$BENCH_DIR/anchor" -c Release -nologo -v quiet \
      && dotnet build "$BENCH_DIR/pair" -c Release -nologo -v quiet -p:CI=true; } >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; exit 1; }
}

# The floor: a bare minimal API (bench/anchor) in Production, on its own port; sets ANCHOR.
start_anchor() {
  local port
  port=$(free_port)
  ANCHOR="http://127.0.0.1:$port"
  (cd "$(dirname "$ANCHOR_DLL")" && exec env ASPNETCORE_ENVIRONMENT=Production dotnet "$ANCHOR_DLL" --urls "$ANCHOR" \
      >"$WORK/anchor.log" 2>&1) &
  ANCHOR_PID=$!
  for _ in $(seq 300); do
    curl -fsS "$ANCHOR/plain" >/dev/null 2>&1 && { echo "== anchor: $ANCHOR (pid $ANCHOR_PID)"; return 0; }
    sleep 0.1
  done
  echo "the anchor did not start:"; cat "$WORK/anchor.log"; exit 1
}

start_redis() { REDIS_PORT=$(redis_on "$WORK/redis"); }

# A private redis-server with its files in $1; prints its port.
redis_on() {
  local port
  port=$(free_port)
  mkdir -p "$1"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --dir "$1" --pidfile "$1/redis.pid" --logfile "$1/redis.log"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && { echo "$port"; return 0; }; sleep 0.1; done
  echo "redis-server did not start" >&2; exit 1
}

# The service's settings for a benchmark, in SERVICE_ENV: Production, the bench's operator key, limits far above any scenario.
service_env() { # DATA_FOLDER [REDIS_PORT]
  SERVICE_ENV=(ASPNETCORE_ENVIRONMENT=Production "Admin__ApiKey=$OPERATOR_KEY" "Storage__DataDirectory=$1" Logging__LogLevel__Default=Warning
    RateLimits__PublicWrites__PermitLimit=100000000 RateLimits__PublicReads__PermitLimit=100000000
    RateLimits__PerClient__PermitLimit=100000000 RateLimits__Checks__PermitLimit=100000000 RateLimits__Keys__PermitLimit=100000000)
  [ -z "${2:-}" ] || SERVICE_ENV+=("ConnectionStrings__Redis=127.0.0.1:$2")
}

# Waits until every URL answers /health/ready while process $1 lives; else prints log $2 and exits.
await_ready() { # PID LOG URL...
  local pid=$1 log=$2 url; shift 2
  for url in "$@"; do
    for _ in $(seq 600); do
      curl -fsS "$url/health/ready" >/dev/null 2>&1 && continue 2
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    echo "$url did not become ready:"; cat "$log"; exit 1
  done
}

# Starts the Release build in Production on a fresh data folder (or $1), with Redis when started.
start_service() {
  local data=${1:-$WORK/data}
  BASE="http://127.0.0.1:$(free_port)"
  mkdir -p "$data"
  service_env "$data" "$REDIS_PORT"
  (cd "$(dirname "$DLL")" && exec env "${SERVICE_ENV[@]}" dotnet "$DLL" --urls "$BASE" >"$WORK/service.log" 2>&1) &
  SERVICE_PID=$!
  await_ready "$SERVICE_PID" "$WORK/service.log" "$BASE"
  echo "== service: $BASE (pid $SERVICE_PID)"
}

# Two instances of one deployment in one process (bench/pair): one store, a Redis of their own, a port each.
# Sets PAIR_A (the first's URL) and PAIR_PORTS ("first second").
start_pair() {
  local first second
  first=$(free_port) second=$(free_port)
  PAIR_REDIS_PORT=$(redis_on "$WORK/pair-redis")
  mkdir -p "$WORK/pair-data"
  service_env "$WORK/pair-data" "$PAIR_REDIS_PORT"
  (cd "$(dirname "$PAIR_DLL")" && exec env "${SERVICE_ENV[@]}" dotnet "$PAIR_DLL" "$first" "$second" \
      >"$WORK/pair.log" 2>&1) &
  PAIR_PID=$!
  PAIR_A="http://127.0.0.1:$first" PAIR_PORTS="$first $second"
  await_ready "$PAIR_PID" "$WORK/pair.log" "$PAIR_A" "http://127.0.0.1:$second"
  echo "== two instances: ports $PAIR_PORTS (pid $PAIR_PID)"
}

# POST/GET with a key; prints the body.
call() { # METHOD PATH KEY [JSON]
  curl -fsS -X "$1" "$BASE$2" -H "Authorization: Bearer $3" ${4:+-H 'Content-Type: application/json' -d "$4"}
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

# A site and its keys: sets SITE, ADMIN_KEY, LEGAL_KEY, CHECK_KEY.
create_site() {
  local site
  site=$(call POST /v1/sites "$OPERATOR_KEY" '{"name":"Bench shop","allowedOrigins":["https://bench.example"],"jurisdictionMode":"gdpr"}')
  SITE=$(echo "$site" | json "['id']")
  ADMIN_KEY=$(echo "$site" | json "['adminKey']['key']")
  CHECK_KEY=$(call POST "/v1/sites/$SITE/keys" "$ADMIN_KEY" '{"role":"check","label":"bench"}' | json "['key']")
  LEGAL_KEY=$(call POST "/v1/sites/$SITE/keys" "$ADMIN_KEY" '{"role":"legal","label":"bench"}' | json "['key']")
}

# A material policy version (the template, published as material): every seeded decision needs asking
# again, so returning visitors re-consent to it (the reconsent scenario). Sets MATERIAL_VERSION.
publish_material_policy() {
  local template
  template=$(curl -fsS "$BASE/v1/policy-template")
  MATERIAL_VERSION=$(call POST "/v1/sites/$SITE/policies" "$ADMIN_KEY" \
    "$(echo "$template" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["material"]=True; print(json.dumps(d))')" | json "['version']")
  echo "== published policy version $MATERIAL_VERSION (material)"
}

machine() {
  local cpu cores ram os
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  cores=$(nproc)
  ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
  os=$(. /etc/os-release && echo "$PRETTY_NAME")
  echo "${cpu:-unknown CPU}, $cores cores, $ram RAM, $os ($(uname -r)), .NET $(dotnet --version) SDK / runtime $(dotnet --list-runtimes | sed -n 's/^Microsoft.AspNetCore.App \([^ ]*\).*/\1/p' | tail -n 1), $(date -u '+%Y-%m-%d %H:%M UTC')"
}
