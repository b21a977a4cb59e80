#!/usr/bin/env bash
# Everything a machine needs before opslab can run labs: a Docker engine that answers,
# the opslab/base:bookworm image, and the lab images built on it (opslab/python-ml and
# each lab's own image). Safe to run again; a no-op run takes seconds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"

T0=$(now_ms)
bash "$HERE/host-tools.sh"
bash "$HERE/engine.sh"
bash "$HERE/base-image.sh"
bash "$HERE/lab-images.sh"
log "setup done in $(since "$T0")"
