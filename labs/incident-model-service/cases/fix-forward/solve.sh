#!/usr/bin/env bash
# Fix forward: config back to v3, feature order read from the model's metadata (files
# laid over: app/features.py, app/model.py, app/main.py, tests/test_api.py, INCIDENT.md).
set -euo pipefail
sed -i 's#^MODEL_PATH=.*#MODEL_PATH=/srv/models/churn/v3/model.joblib#' deploy/service.env
sed -i 's/"2.4.0"/"2.4.1"/' app/__init__.py
python3 - <<'PY'
from pathlib import Path

p = Path("CHANGELOG.md")
p.write_text(p.read_text().replace(
    "## 2.4.0",
    "## 2.4.1\n\n"
    "- Serve churn model v3 again: v4 was never published (rejected by validation).\n"
    "- The input column order comes from the model's metadata.json, not from code.\n\n## 2.4.0",
    1,
))
PY
python -m pytest -q -p no:cacheprovider
git add -A
git commit -q -m "Fix forward 2.4.1: serve v3 again, take the feature order from the model's metadata"
churn-api restart
churn-api smoke
