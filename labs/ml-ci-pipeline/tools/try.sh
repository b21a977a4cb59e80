#!/usr/bin/env bash
# Authoring aid: grade an attempt quickly, without a sandbox. Builds a workspace from the
# starter (committed), lays each given folder over it and runs its solve.sh, then runs the
# grader in the python-ml image as uid 1001 with the workspace read-only, and the server's
# grader tools (untrusted.py, which confines the candidate's code) at /opt/opslab as in a session.
#   tools/try.sh solution [cases/x ...]        (folders relative to the lab)
#   DEBUG=1 tools/try.sh ...                    (adds the emulator's step log)
set -euo pipefail
LAB=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$(cd "$LAB/../../server/sandbox/grader-tools" && pwd)
WS=$(mktemp -d /tmp/mlci-ws.XXXXXX)
cp -a "$LAB/starter/." "$WS/"
cd "$WS"
git init -q -b main && git -c user.name=t -c user.email=t@t add -A && git -c user.name=t -c user.email=t@t commit -q -m start && git tag opslab-start
for layer in "$@"; do
  case "$layer" in /*) L="$layer";; *) L="$LAB/$layer";; esac
  (cd "$L" && tar --exclude=./solve.sh --exclude=./case.yaml -cf - .) | tar -xf -
  if [ -f "$L/solve.sh" ]; then GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t bash "$L/solve.sh"; fi
done
chmod -R a+rX "$WS"
docker run --rm -u 1001 --cap-drop ALL --security-opt no-new-privileges --read-only --tmpfs /tmp:rw,nosuid,nodev,size=256m \
  -v "$LAB/grader":/grader:ro -v "$TOOLS":/opt/opslab:ro -v "$WS":/workspace:ro -w /workspace \
  -e HOME=/tmp -e CI_SIM_DEBUG="${DEBUG:-}" --entrypoint sh opslab/python-ml -c '
  start=$(date +%s.%N)
  python3 /grader/ci_sim.py all
  python3 /grader/check_workflows.py; echo "schema rc=$?"
  python3 -c "import time,sys; print(\"seconds\", round(time.time()-float(sys.argv[1]),1))" $start'
rm -rf "$WS"
