#!/usr/bin/env bash
# The reference solution: app/main.py (metrics, recorded by a middleware so that 422s
# count) and monitoring/alerts.yml are laid over the starter. Restart the service on the
# new code, leave it running, commit.
set -euo pipefail
scripts/restart.sh
metrics=$(curl -fsS http://127.0.0.1:8000/metrics)
grep -q '^churn_api_predictions_total' <<<"$metrics"
git add app/main.py monitoring/alerts.yml
git commit -q -m "Expose Prometheus metrics and alert on errors, latency and prediction skew"
