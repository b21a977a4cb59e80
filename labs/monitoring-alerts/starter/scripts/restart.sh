#!/usr/bin/env bash
# (Re)starts churn-api in the background on 127.0.0.1:8000 and waits until it answers.
# Logs: /tmp/churn-api.log. Run it after every change to the code.
set -euo pipefail
cd "$(dirname "$0")/.."

PIDFILE=/tmp/churn-api.pid
LOG=/tmp/churn-api.log

running() { # the process exists and is not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [[ $state != Z ]]
}

if [[ -f $PIDFILE ]]; then
  old=$(cat "$PIDFILE")
  if kill "$old" 2>/dev/null; then
    for _ in $(seq 100); do running "$old" || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
fi

setsid nohup uvicorn app.main:app --host 127.0.0.1 --port 8000 >"$LOG" 2>&1 </dev/null &
echo $! >"$PIDFILE"

for _ in $(seq 120); do
  if curl -fsS -o /dev/null http://127.0.0.1:8000/health 2>/dev/null; then
    echo "churn-api is up on http://127.0.0.1:8000 (pid $(cat "$PIDFILE"), log $LOG)"
    exit 0
  fi
  running "$(cat "$PIDFILE")" || break
  sleep 0.25
done
echo "churn-api did not come up; the end of $LOG:" >&2
tail -n 30 "$LOG" >&2
exit 1
