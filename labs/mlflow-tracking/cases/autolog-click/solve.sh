#!/usr/bin/env bash
set -euo pipefail
python train.py --max-depth 4
git add train.py
git commit -q -m "feat: track churn training in MLflow"
python train.py --n-estimators 300 --max-depth 10
printf '\n## Tracking\n\nEvery run of `python train.py [--n-estimators N] [--max-depth D]` is logged to the\nMLflow server in `MLFLOW_TRACKING_URI` (experiment `churn-prediction`) and registered\nas `churn-classifier`.\n' >> README.md
git commit -q -am "docs: how training runs are tracked"
