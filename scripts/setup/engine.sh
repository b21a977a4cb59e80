#!/usr/bin/env bash
# Make sure a Docker engine answers.
#
#   1. If DOCKER_HOST (or the current docker context, or /var/run/docker.sock) answers,
#      use it. This is the fast path (well under a second).
#   2. Otherwise, as root on Debian: install docker.io (and debootstrap, which
#      base-image.sh needs) if missing, start `dockerd --live-restore` in the background
#      (no systemd here) with its log in /var/log/opslab-dockerd.log, and wait for it.
#   3. Otherwise stop and say what to install or start.
#
# It never starts a daemon for an engine the user pointed at explicitly (DOCKER_HOST,
# or a docker context other than the default socket): it says that engine is down.
#
# Settings (environment):
#   OPSLAB_DOCKERD_WAIT     seconds to wait for a started dockerd (default 60)
#   OPSLAB_DOCKERD_LOG      dockerd log file (default /var/log/opslab-dockerd.log)
# Test hooks, to exercise the start path beside a running engine without touching it
# (see scripts/setup/README.md):
#   OPSLAB_DOCKERD_SOCK     the "local" socket to check/start (default /var/run/docker.sock)
#   OPSLAB_DOCKERD_PIDFILE  its pid file (default /var/run/docker.pid)
#   OPSLAB_DOCKERD_ARGS     extra dockerd arguments (word-split)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"

DEFAULT_SOCK=/var/run/docker.sock
DEFAULT_PIDFILE=/var/run/docker.pid
SOCK=${OPSLAB_DOCKERD_SOCK:-$DEFAULT_SOCK}
PIDFILE=${OPSLAB_DOCKERD_PIDFILE:-$DEFAULT_PIDFILE}
DLOG=${OPSLAB_DOCKERD_LOG:-/var/log/opslab-dockerd.log}
WAIT=${OPSLAB_DOCKERD_WAIT:-60}
read -r -a EXTRA_ARGS <<<"${OPSLAB_DOCKERD_ARGS:-}"
LOCAL_HOST="unix://$SOCK"
T0=$(now_ms)

ERR_FILE=$(mktemp)
trap 'rm -f "$ERR_FILE"' EXIT

# answers [HOST]: does the engine at HOST (default: whatever the CLI would use) answer?
# Prints the server version. The last error is left in $ERR_FILE.
answers() {
  local host=${1:-}
  case $host in
    unix://*)
      if [ ! -S "${host#unix://}" ]; then
        echo "no socket at ${host#unix://}" >"$ERR_FILE"
        return 1
      fi
      ;;
  esac
  if have docker; then
    if [ -n "$host" ]; then
      DOCKER_HOST=$host timeout 5 docker version --format '{{.Server.Version}}' 2>"$ERR_FILE"
    else
      timeout 5 docker version --format '{{.Server.Version}}' 2>"$ERR_FILE"
    fi
    return
  fi
  # No CLI yet (fresh machine): ask a local socket with curl, if there is one.
  case $host in
    unix://*)
      have curl || return 1
      curl -fsS --max-time 5 --unix-socket "${host#unix://}" http://localhost/version 2>"$ERR_FILE" |
        sed -n 's/.*"Version":"\([^"]*\)".*/\1/p'
      [ "${PIPESTATUS[0]}" -eq 0 ]
      ;;
    *) return 1 ;;
  esac
}

last_error() { tail -n 3 "$ERR_FILE" 2>/dev/null | tr '\n' ' ' | sed 's/ *$//'; }

ok() {
  log "engine: Docker $1 answers at $2 ($(since "$T0"))"
  exit 0
}

# dockerd_pid: pid of the dockerd that owns $PIDFILE, if it is alive.
dockerd_pid() {
  local pid
  [ -r "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # A stale pid file may name a pid that now belongs to something else.
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

# show_log: the last lines dockerd wrote since this script started it.
LOG_OFFSET=0
show_log() {
  tail -c +$((LOG_OFFSET + 1)) "$DLOG" 2>/dev/null | tail -n 20 | sed 's/^/[setup]   dockerd: /' >&2 || true
}

# wait_for PID: wait until the local socket answers (or dockerd PID exits).
wait_for() {
  local pid=$1 deadline version other
  deadline=$(($(date +%s) + WAIT))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if version=$(answers "$LOCAL_HOST") && [ -n "$version" ]; then
      ok "$version" "$LOCAL_HOST (dockerd pid $pid, log $DLOG)"
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      # setsid may have forked; then the daemon's own pid is in its pid file.
      if other=$(dockerd_pid); then
        pid=$other
      else
        show_log
        die "dockerd (pid $pid) exited before it answered; its output is above (log: $DLOG)"
      fi
    fi
    sleep 0.5
  done
  show_log
  die "dockerd (pid $pid) did not answer on $SOCK within ${WAIT}s; see $DLOG"
}

# --- 1. An engine that answers already? -------------------------------------------
if [ -n "${DOCKER_HOST:-}" ]; then
  if version=$(answers "$DOCKER_HOST") && [ -n "$version" ]; then ok "$version" "DOCKER_HOST=$DOCKER_HOST"; fi
  if [ "$DOCKER_HOST" != "$LOCAL_HOST" ]; then
    err=$(last_error)
    hint="start that engine, or unset DOCKER_HOST to use (or let this script start) the local engine at $SOCK"
    if version=$(answers "$LOCAL_HOST") && [ -n "$version" ]; then
      hint="$hint (the local engine there answers: Docker $version)"
    fi
    die "DOCKER_HOST=$DOCKER_HOST does not answer (${err:-no reply}); $hint."
  fi
else
  if [ "$SOCK" = "$DEFAULT_SOCK" ] && have docker; then
    # Whatever the CLI uses (a docker context, or the default socket).
    if version=$(answers) && [ -n "$version" ]; then
      ok "$version" "$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || echo "$LOCAL_HOST")"
    fi
    ctx_host=$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || true)
    if [ -n "$ctx_host" ] && [ "$ctx_host" != "$LOCAL_HOST" ]; then
      die "the current docker context points at $ctx_host, which does not answer ($(last_error)). Start that engine, or switch with 'docker context use default'."
    fi
  elif version=$(answers "$LOCAL_HOST") && [ -n "$version" ]; then
    if have docker; then ok "$version" "$LOCAL_HOST"; fi
    log "an engine answers at $SOCK, but the docker CLI is missing; installing it"
  fi
fi
if [ -s "$ERR_FILE" ]; then log "no engine answers at $LOCAL_HOST: $(last_error)"; else log "no engine answers at $LOCAL_HOST"; fi

# --- 2. Install and start one (root on Debian only) ---------------------------------
if grep -qi 'permission denied' "$ERR_FILE" 2>/dev/null; then
  die "an engine is at $SOCK but user '$(id -un)' may not use it. Run as root, or add the user to the 'docker' group (sudo usermod -aG docker $(id -un), then log in again)."
fi
if ! is_root || ! is_debian; then
  if have dockerd || have docker; then
    die "Docker is installed but no engine answers at $SOCK. Start it (e.g. 'sudo systemctl start docker', or as root: 'setsid nohup dockerd --live-restore >$DLOG 2>&1 &'), and make sure this user may use $SOCK (member of the 'docker' group), then run this again."
  fi
  die "no Docker engine. Install one (Debian/Ubuntu: 'sudo apt-get install -y docker.io debootstrap'; elsewhere Docker Engine or Docker Desktop) and start it, then run this again."
fi

# One starter at a time (two setups racing would start two daemons on one socket).
have flock || die "flock (util-linux) is missing"
exec 9>"$PIDFILE.opslab-setup.lock"
if ! flock -n 9; then
  log "another opslab setup is installing or starting the engine; waiting for it"
  flock -w $((WAIT + 600)) 9 || die "timed out waiting for the other setup (lock $PIDFILE.opslab-setup.lock)"
  if version=$(answers "$LOCAL_HOST") && [ -n "$version" ] && have docker; then ok "$version" "$LOCAL_HOST"; fi
fi

need=()
have dockerd || need+=(docker.io)
have docker || need+=(docker.io)
have debootstrap || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  apt_install "${need[@]}"
  hash -r
  have dockerd || die "dockerd is still missing after installing docker.io"
  have docker || die "the docker CLI is still missing after installing docker.io"
  # The package's init script may have started a daemon (when no policy-rc.d stops it).
  if version=$(answers "$LOCAL_HOST") && [ -n "$version" ]; then ok "$version" "$LOCAL_HOST"; fi
fi

if pid=$(dockerd_pid); then
  log "dockerd (pid $pid, pid file $PIDFILE) is running but $SOCK does not answer yet; waiting up to ${WAIT}s"
  wait_for "$pid"
fi

args=(--live-restore)
if [ "$SOCK" != "$DEFAULT_SOCK" ]; then args+=(-H "$LOCAL_HOST"); fi
if [ "$PIDFILE" != "$DEFAULT_PIDFILE" ]; then args+=(--pidfile "$PIDFILE"); fi
args+=("${EXTRA_ARGS[@]}")
mkdir -p "$(dirname "$DLOG")"
LOG_OFFSET=$(stat -c %s "$DLOG" 2>/dev/null || echo 0)
log "starting: dockerd ${args[*]} (log: $DLOG)"
printf '\n=== %s: started by opslab scripts/setup/engine.sh: dockerd %s\n' "$(date -Is)" "${args[*]}" >>"$DLOG"
# setsid + nohup: the daemon gets its own session and outlives this script and its terminal.
setsid nohup dockerd "${args[@]}" </dev/null >>"$DLOG" 2>&1 9>&- &
pid=$!
disown "$pid" 2>/dev/null || true
wait_for "$pid"
