#!/usr/bin/env bash
# Sets up what opslab needs on this machine (Node dependencies, the web app's build, a
# Docker engine, the sandbox images) and runs the server with its embedded defaults:
# SQLite in ./data, the local Docker engine, the labs in ./labs. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup/node-deps.sh
bash scripts/setup/web-build.sh
bash scripts/setup/all.sh
exec ./bin/opslab serve "$@"
