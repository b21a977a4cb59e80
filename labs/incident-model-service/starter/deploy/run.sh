#!/usr/bin/env bash
# Starts churn-api in the foreground. The supervisor runs this script from the repository
# with the variables of deploy/service.env in the environment, and restarts it when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m uvicorn app.main:app --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" --log-level "${LOG_LEVEL:-info}"
