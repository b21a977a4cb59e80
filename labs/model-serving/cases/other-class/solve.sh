#!/usr/bin/env bash
# The reference solution with one mistake: predict_proba(row)[0, 0] is the probability of
# class 0 (staying), so every score is inverted - and churn with it.
set -euo pipefail
sed -i 's/predict_proba(row)\[0, 1\]/predict_proba(row)[0, 0]/' app/main.py
grep -q 'predict_proba(row)\[0, 0\]' app/main.py
# Restart the API the reference solve.sh left running (its pid is in /tmp/uvicorn.pid).
kill "$(cat /tmp/uvicorn.pid)"
while curl -fsS -o /dev/null http://127.0.0.1:8000/health 2>/dev/null; do sleep 0.2; done
setsid nohup uvicorn app.main:app --host 127.0.0.1 --port 8000 >/tmp/uvicorn.log 2>&1 </dev/null &
echo $! >/tmp/uvicorn.pid
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null http://127.0.0.1:8000/health && break
  sleep 0.5
done
git commit -q -am "Return the model's probability"
