#!/usr/bin/env bash
# The reference solution with one mistake: train.py sets the tracking URI itself.
set -euo pipefail
sed -i 's|^    mlflow.set_experiment(EXPERIMENT)$|    mlflow.set_tracking_uri("http://127.0.0.1:5000")\n&|' train.py
grep -q 'set_tracking_uri("http://127.0.0.1:5000")' train.py
git commit -q -am "Point train.py at the tracking server"
