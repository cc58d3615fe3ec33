# Sourced by test.sh and bench/common.sh.
# Installs the Debian packages whose command is missing, with one `apt-get update` first.
# Usage: need_apt COMMAND:PACKAGE ...
need_apt() {
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== apt: installing ${missing[*]}"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
