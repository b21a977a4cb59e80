#!/usr/bin/env bash
# The reference solution with one mistake: train.py keeps its hard-coded n_estimators and
# max_depth (the values happen to equal params.yaml's, so repro and metrics still agree).
set -euo pipefail
sed -i 's/n_estimators=hyper\["n_estimators"\], max_depth=hyper\["max_depth"\]/n_estimators=100, max_depth=6/' src/train.py
grep -q 'n_estimators=100, max_depth=6' src/train.py
dvc repro -q
git commit -q -am "Train with the tuned forest"
