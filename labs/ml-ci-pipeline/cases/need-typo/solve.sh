#!/usr/bin/env bash
# The reference solution with one mistake: a typo in the image job, `need: train`.
set -euo pipefail
sed -i 's/^    needs: train$/    need: train/' .github/workflows/ci.yml
grep -q '^    need: train$' .github/workflows/ci.yml
git commit -q -am "CI: tidy the image job"
