#!/usr/bin/env bash
# The reference solution with one mistake: app/main.py (this folder's copy) takes the
# body as a plain dict. Good customers get the model's answer; a missing field or a
# mistyped value reaches the model (500), an unknown contract is silently one-hot
# encoded as nothing (200).
set -euo pipefail
# Restart the API the reference solve.sh left running (its pid is in /tmp/uvicorn.pid).
kill "$(cat /tmp/uvicorn.pid)"
while curl -fsS -o /dev/null http://127.0.0.1:8000/health 2>/dev/null; do sleep 0.2; done
setsid nohup uvicorn app.main:app --host 127.0.0.1 --port 8000 >/tmp/uvicorn.log 2>&1 </dev/null &
echo $! >/tmp/uvicorn.pid
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null http://127.0.0.1:8000/health && break
  sleep 0.5
done
git commit -q -am "Simplify /predict"
