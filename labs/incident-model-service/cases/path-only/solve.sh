#!/usr/bin/env bash
# A plausible on-call fix that follows the stack trace only: MODEL_PATH back to v3,
# commit, restart. /health is green; `churn-api smoke` was never run.
set -euo pipefail
sed -i 's#/srv/models/churn/v4/model.joblib#/srv/models/churn/v3/model.joblib#' deploy/service.env
grep -q 'MODEL_PATH=/srv/models/churn/v3/model.joblib' deploy/service.env
git add deploy/service.env INCIDENT.md
git commit -q -m "Hotfix: serve churn model v3 again (v4 artifact missing)"
churn-api restart
