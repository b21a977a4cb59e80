#!/usr/bin/env bash
# Another valid way: KS test (scipy) instead of PSI, reports/ made by hand, two commits.
set -euo pipefail
python -m pytest -q -p no:cacheprovider
git add drift tests
git commit -q -m "drift: KS test per feature, JSON report"
mkdir -p reports
python -m drift.report --reference data/reference.csv --current data/current.csv --output reports/drift_report.json
printf '\nMethod: two-sample Kolmogorov-Smirnov test per feature; a feature has drifted when p < 0.05.\n' >> README.md
git add reports README.md
git commit -q -m "Drift report for last week: age and loan_amount drifted"
