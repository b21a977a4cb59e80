#!/usr/bin/env bash
# The reference solution with one mistake: a parameter tuned and committed without
# `dvc repro`, so dvc.lock and metrics.json are stale.
set -euo pipefail
sed -i 's/^  n_estimators: 100$/  n_estimators: 300/' params.yaml
grep -q '^  n_estimators: 300$' params.yaml
git commit -q -am "More trees"
