#!/usr/bin/env bash
# The reference solution with one mistake: evaluate.py runs without --min-accuracy, and
# the step after it only reports the accuracy and the bar - it never exits non-zero.
set -euo pipefail
sed -i 's|^        run: python evaluate.py --min-accuracy "\$MIN_ACCURACY"$|        run: \|\n          python evaluate.py\n          echo "accuracy $(jq .accuracy metrics.json) (bar: $MIN_ACCURACY)"|' .github/workflows/ci.yml
grep -q 'echo "accuracy' .github/workflows/ci.yml
git commit -q -am "CI: report the accuracy"
