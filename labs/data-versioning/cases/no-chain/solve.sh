#!/usr/bin/env bash
# The reference solution with one mistake: train does not depend on prepare's output.
set -euo pipefail
sed -i '/^  train:/,/^  evaluate:/{/- data\/prepared\/train.csv/d}' dvc.yaml
test "$(grep -c 'data/prepared/train.csv' dvc.yaml)" = 1
dvc repro -q
git commit -q -am "Simplify the pipeline"
