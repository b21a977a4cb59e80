#!/usr/bin/env bash
set -euo pipefail
python train.py
git add train.py
git commit -q -m "Track training runs in MLflow and register the model"
