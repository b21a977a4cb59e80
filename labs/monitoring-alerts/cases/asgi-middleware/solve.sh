#!/usr/bin/env bash
set -euo pipefail
scripts/restart.sh
curl -fsSL http://127.0.0.1:8000/metrics | promtool check metrics
git add app monitoring
git commit -q -m "Export Prometheus metrics from an ASGI middleware"
promtool check rules monitoring/alerts.yml
printf '\n## Monitoring\n\n`GET /metrics` (Prometheus), alerts in `monitoring/alerts.yml`.\n' >> README.md
git commit -q -am "docs: monitoring"
