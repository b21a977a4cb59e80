#!/usr/bin/env bash
# The reference solution: revert the release commit (MODEL_PATH and FEATURES go back to
# v3), commit INCIDENT.md (laid over), restart under the supervisor, run the smoke test.
set -euo pipefail
release=$(git log --format=%H --grep='^Release 2.4.0' -n 1)
git revert --no-edit "$release"
git add INCIDENT.md
git commit -q -m "Incident report: churn-api down after release 2.4.0"
churn-api restart
churn-api smoke
