# Shared by bench/run and bench/export-memory: system packages, a Release build, a private
# redis-server and the service on loopback. Source it; it sets BENCH_* variables and cleans up on exit.
set -euo pipefail
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DEBIAN_FRONTEND=noninteractive

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
DLL="$REPO/src/ConsentService/bin/Release/net10.0/ConsentService.dll"
OPERATOR_KEY="cso_bench-operator-key-0123456789abcdef"
WORK=$(mktemp -d /tmp/consent-bench.XXXXXX)
SERVICE_PID="" REDIS_PORT="" BASE="" ANCHOR_PID="" ANCHOR=""
ANCHOR_DLL="$BENCH_DIR/anchor/bin/Release/net10.0/Anchor.dll"

cleanup() {
  [ -n "$SERVICE_PID" ] && kill "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
  [ -n "$ANCHOR_PID" ] && kill "$ANCHOR_PID" 2>/dev/null && wait "$ANCHOR_PID" 2>/dev/null
  [ -n "$REDIS_PORT" ] && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$REPO/scripts/need-apt.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

build_release() {
  echo "== build: Release (service and the bare anchor)"
  { dotnet build "$REPO/src/ConsentService" -c Release -nologo -v quiet -p:CI=true \
      && dotnet build "$BENCH_DIR/anchor" -c Release -nologo -v quiet; } >"$WORK/build.log" 2>&1 \
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

start_redis() {
  REDIS_PORT=$(free_port)
  mkdir -p "$WORK/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes \
    --dir "$WORK/redis" --pidfile "$WORK/redis/redis.pid" --logfile "$WORK/redis/redis.log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis-server did not start"; exit 1
}

# Starts the Release build in Production on a fresh data folder (or $1), with Redis when started.
start_service() {
  local data=${1:-$WORK/data} port
  port=$(free_port)
  BASE="http://127.0.0.1:$port"
  mkdir -p "$data"
  (cd "$(dirname "$DLL")" && exec env ASPNETCORE_ENVIRONMENT=Production Admin__ApiKey="$OPERATOR_KEY" \
      Storage__DataDirectory="$data" ${REDIS_PORT:+ConnectionStrings__Redis=127.0.0.1:$REDIS_PORT} \
      Logging__LogLevel__Default=Warning \
      RateLimits__PublicWrites__PermitLimit=100000000 RateLimits__PublicReads__PermitLimit=100000000 \
      RateLimits__PerClient__PermitLimit=100000000 RateLimits__Checks__PermitLimit=100000000 \
      RateLimits__Keys__PermitLimit=100000000 \
      dotnet "$DLL" --urls "$BASE" >"$WORK/service.log" 2>&1) &
  SERVICE_PID=$!
  for _ in $(seq 600); do
    curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && { echo "== service: $BASE (pid $SERVICE_PID)"; return 0; }
    kill -0 "$SERVICE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "the service did not become ready:"; cat "$WORK/service.log"; exit 1
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
