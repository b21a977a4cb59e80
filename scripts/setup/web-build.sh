#!/usr/bin/env bash
# Builds the web app (web/ → web/dist, `npm run build:web`) only when its inputs
# changed since the last build: the sources under web/ (not dist), the lock file (the
# versions of vite, xterm, ...) and package.json. The inputs' hash is kept in
# web/dist/.opslab-build-hash, so an unchanged tree skips the build in well under a second.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"
cd "$HERE/../.."

stamp=web/dist/.opslab-build-hash
want=$(
  {
    find web -path web/dist -prune -o -path web/node_modules -prune -o -type f -print | LC_ALL=C sort | while IFS= read -r f; do
      printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
    done
    sha256sum package-lock.json package.json
  } | sha256sum | cut -d' ' -f1
)
if [ -f "$stamp" ] && [ -f web/dist/index.html ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "web app is up to date"
  exit 0
fi
T0=$(now_ms)
log "building the web app (npm run build:web)"
npm run --silent build:web
echo "$want" >"$stamp"
log "web app built in $(since "$T0")"
