#!/usr/bin/env bash
set -euo pipefail
python train.py --n-estimators 100 --max-depth 6
python train.py --n-estimators 300 --max-depth 16
git add train.py
git commit -q -m "Track training runs in MLflow"
