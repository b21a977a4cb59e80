# shellcheck shell=bash
# Helpers shared by scripts/setup/*.sh. Source this file; do not run it.

log() { printf '[setup] %s\n' "$*"; }
warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian() { [ -f /etc/debian_version ] && have apt-get && have dpkg-query; }

# Milliseconds since the epoch, and a "12.3 s" rendering of a difference.
now_ms() { date +%s%3N; }
since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
}

pkg_installed() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q ' installed$'
}

# apt_install PKG...: install the packages that are not installed yet (with their
# Recommends, as Debian intends for docker.io). Runs `apt-get update` only when a
# missing package has no install candidate (fresh machine, or lists cleaned).
apt_install() {
  local missing=() p cand need_update=0
  for p in "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! is_root || ! is_debian; then
    die "missing packages: ${missing[*]}. Install them (on Debian: sudo apt-get install -y ${missing[*]}) and run this again."
  fi
  for p in "${missing[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; fi
  done
  if [ "$need_update" -eq 1 ]; then
    log "apt-get update"
    apt-get update -q || die "apt-get update failed"
  fi
  log "apt-get install -y ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
}
