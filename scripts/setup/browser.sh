#!/usr/bin/env bash
# Make sure a Chromium for the browser tests (test/e2e, playwright-core) is installed.
#
#   1. If OPSLAB_CHROMIUM names an executable, or /usr/bin/chromium exists, use it
#      (well under a second).
#   2. Otherwise, as root on Debian: apt-get install chromium (Debian's package; a
#      browser download by `npx playwright install` cannot work without the internet).
#   3. Otherwise stop and say what to install.
#
# The tests find the browser the same way (OPSLAB_CHROMIUM, else /usr/bin/chromium).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"

T0=$(now_ms)
BROWSER=${OPSLAB_CHROMIUM:-/usr/bin/chromium}

version_of() { "$1" --version 2>/dev/null | head -n 1; }

if [ -x "$BROWSER" ]; then
  log "browser: $(version_of "$BROWSER" || echo "$BROWSER") ($(since "$T0"))"
  exit 0
fi
if [ -n "${OPSLAB_CHROMIUM:-}" ]; then
  die "OPSLAB_CHROMIUM=$OPSLAB_CHROMIUM is not an executable. Point it at a Chromium or Chrome binary, or unset it to use Debian's /usr/bin/chromium."
fi
if ! is_root || ! is_debian; then
  die "no Chromium at $BROWSER for the browser tests. Install one (Debian/Ubuntu: 'sudo apt-get install -y chromium'), or set OPSLAB_CHROMIUM to a Chromium or Chrome binary, then run this again."
fi

# One installer at a time (two setups running apt-get at once would fail on its lock).
have flock || die "flock (util-linux) is missing"
exec 9>/var/lib/dpkg/opslab-browser-setup.lock
flock -w 900 9 || die "timed out waiting for another setup installing the browser"
if [ ! -x "$BROWSER" ]; then
  apt_install chromium
fi
[ -x "$BROWSER" ] || die "chromium was installed but $BROWSER is missing"
log "browser: $(version_of "$BROWSER" || echo "$BROWSER") installed in $(since "$T0")"
