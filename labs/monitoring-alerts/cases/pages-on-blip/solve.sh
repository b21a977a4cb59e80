#!/usr/bin/env bash
# The reference solution with one mistake: ChurnApiHighErrorRate fires on the first
# evaluation above 5% (no `for:`), so it pages on a burst that is over in a minute.
set -euo pipefail
sed -i '/alert: ChurnApiHighErrorRate/,/severity:/{/^        for: 5m$/d}' monitoring/alerts.yml
[[ $(grep -c '^        for:' monitoring/alerts.yml) == 2 ]]
promtool check rules monitoring/alerts.yml >/dev/null
git commit -q -am "Page as soon as errors go above 5%"
