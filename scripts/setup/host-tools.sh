#!/usr/bin/env bash
# The host programs the Docker driver uses to confine sandboxes, installed when missing
# (as root on Debian): iptables for the network guard, e2fsprogs (mkfs.ext4, debugfs)
# and losetup (package mount) for the size-limited disks. Without them the server still
# runs, with the guard or the disk limits off, and says so in GET /api/health.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"

need=()
# Look in sbin too: a non-login root shell may not have it on PATH.
find_tool() { have "$1" || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
find_tool iptables || need+=(iptables)
find_tool mkfs.ext4 || need+=(e2fsprogs)
find_tool debugfs || need+=(e2fsprogs)
find_tool losetup || need+=(mount)
if [ "${#need[@]}" -eq 0 ]; then
  log "host tools for sandbox limits are present (iptables, mkfs.ext4, debugfs, losetup)"
  exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if ! is_root || ! is_debian; then
  log "WARNING: missing ${need[*]}: sandboxes will run without the network guard or disk limits (install them and restart opslab)"
  exit 0
fi
apt_install "${need[@]}"
