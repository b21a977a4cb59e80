#!/usr/bin/env bash
# The reference solution's alerts with another app/main.py (laid over): a decorator
# counts and times each call of the handlers. FastAPI validates the body before it calls
# the handler, so an invalid customer gets its 422 without being counted or timed.
set -euo pipefail
scripts/restart.sh
git commit -q -am "Instrument the handlers with a decorator"
