#!/usr/bin/env bash
# The reference solution: app/main.py, Dockerfile and .dockerignore (laid over the
# starter); train the model, start the API on 127.0.0.1:8000 (detached, as a candidate
# leaves it running) and commit.
set -euo pipefail
python train.py
setsid nohup uvicorn app.main:app --host 127.0.0.1 --port 8000 >/tmp/uvicorn.log 2>&1 </dev/null &
echo $! >/tmp/uvicorn.pid
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null http://127.0.0.1:8000/health && break
  sleep 0.5
done
curl -fsS http://127.0.0.1:8000/health
git add -A
git commit -q -m "Serve the churn model: validated /predict, /health, a production Dockerfile"
