#!/usr/bin/env bash
# Installs the Node dependencies exactly as locked (npm ci), only when they are missing or
# the lock file changed since the last install. better-sqlite3 and node-pty build native
# code (allowed in package.json's allowScripts), which needs python3, make and g++.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"
cd "$HERE/../.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  die "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none)). Install it from https://nodejs.org or your distribution."
fi
for tool in python3 make g++; do
  if ! have "$tool"; then
    if is_root && is_debian; then apt_install python3 make g++; break; fi
    die "$tool is needed to build better-sqlite3 and node-pty. Install python3, make and g++, then run this again."
  fi
done

stamp=node_modules/.opslab-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "node dependencies are up to date"
  exit 0
fi
T0=$(now_ms)
log "installing node dependencies (npm ci; native modules build from source the first time)"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
log "node dependencies installed in $(since "$T0")"
