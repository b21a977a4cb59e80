#!/usr/bin/env bash
# Another valid way, laid over the starter: see case.yaml. Two commits; the API is
# started with python -m uvicorn and the model path from the environment.
set -euo pipefail
python train.py
git add app
git commit -q -m "churn-api: validated /predict and /health"
export MODEL_PATH="$PWD/model/model.joblib"
setsid nohup python -m uvicorn app.main:app --port 8000 >/tmp/api.log 2>&1 </dev/null &
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null http://127.0.0.1:8000/health && break
  sleep 0.5
done
curl -s -X POST http://127.0.0.1:8000/predict -H 'Content-Type: application/json' -d '{"tenure_months": "x"}' | grep -q tenure_months
git add -A
git commit -q -m "Dockerfile: multi-stage, pinned, non-root; .dockerignore"
