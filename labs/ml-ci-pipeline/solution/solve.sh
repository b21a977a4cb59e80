#!/usr/bin/env bash
# The reference solution: .github/workflows/ci.yml (lint and test jobs, a train job whose
# evaluate step is the gate via evaluate.py --min-accuracy, and an image job that runs
# only for pushes to main, after the gate, with the model it passed), committed.
set -euo pipefail
git add .github/workflows/ci.yml evaluate.py
git commit -q -m "CI: lint, test, train, gate on accuracy >= 0.80, build the image on main"
