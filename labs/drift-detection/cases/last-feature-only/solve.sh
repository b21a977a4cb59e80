#!/usr/bin/env bash
# The reference solution with one mistake: `drifted_features = [name]` instead of
# `.append(name)`, so only the last drifted feature is named. The tests (one drifted
# feature) still pass; this week's data, where two features drifted, and the report's own
# consistency (features marked drifted vs drifted_features) do not.
set -euo pipefail
sed -i 's/^            drifted_features.append(name)$/            drifted_features = [name]/' drift/report.py
grep -q 'drifted_features = \[name\]' drift/report.py
python -m drift.report --reference data/reference.csv --current data/current.csv --output reports/drift_report.json
git commit -q -am "Simplify the drift summary"
