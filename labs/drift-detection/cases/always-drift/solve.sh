#!/usr/bin/env bash
# The reference solution with one mistake: "drift_detected": bool(features) - every run has
# features, so drift is always detected. This week (real drift) looks right; a week
# without drift raises a false alarm, and the given no-drift test fails (not run here).
set -euo pipefail
sed -i 's/"drift_detected": bool(drifted_features),/"drift_detected": bool(features),/' drift/report.py
grep -q '"drift_detected": bool(features),' drift/report.py
python -m drift.report --reference data/reference.csv --current data/current.csv --output reports/drift_report.json
git commit -q -am "Report drift_detected from the feature table"
