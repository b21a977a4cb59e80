#!/usr/bin/env bash
# The reference solution: scripts that read params.yaml, params.yaml and dvc.yaml (laid
# over the starter); here the DVC repository, the raw data handed from git to DVC, one
# `dvc repro`, and a commit of everything it produced that belongs in git.
set -euo pipefail
dvc init -q
git rm -q --cached data/raw/churn.csv
dvc add -q data/raw/churn.csv
dvc repro
git add .dvc .dvcignore data/raw/churn.csv.dvc data/raw/.gitignore params.yaml dvc.yaml dvc.lock metrics.json src README.md
git status --short
git commit -q -m "Version the churn data and pipeline with DVC"
