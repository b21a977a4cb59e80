#!/usr/bin/env bash
# Another valid way: the data/raw folder under DVC, stages made with `dvc stage add`, the
# parameters interpolated into the commands (DVC reruns a stage when its command changes,
# so no params: lists), a folder as prepare's output, YAML metrics. Two commits.
set -euo pipefail
dvc init -q
git commit -q -m "Initialize DVC"
git rm -r -q --cached data/raw
dvc add -q data/raw
dvc stage add -q -n prepare -d src/prepare.py -d data/raw -o data/prepared \
  'python src/prepare.py --test-size ${prepare.test_size} --seed ${seed}'
dvc stage add -q -n train -d src/train.py -d data/prepared/train.csv -o models/model.joblib \
  'python src/train.py --n-estimators ${train.n_estimators} --max-depth ${train.max_depth} --seed ${seed}'
dvc stage add -q -n evaluate -d src/evaluate.py -d models/model.joblib -d data/prepared/test.csv \
  -M reports/metrics.yaml python src/evaluate.py
dvc repro -q
git add -A
git commit -q -m "Version the raw data and the pipeline with DVC"
