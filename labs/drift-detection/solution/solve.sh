#!/usr/bin/env bash
# The reference solution: drift/report.py (PSI, 10 reference-decile bins, drifted at
# PSI >= 0.2) and tests laid over the starter; this week's report written and committed.
set -euo pipefail
python -m pytest -q
python -m drift.report --reference data/reference.csv --current data/current.csv --output reports/drift_report.json
git add drift/report.py tests/test_report.py reports/drift_report.json
git commit -q -m "Add the weekly feature drift report (PSI) and this week's report"
