#!/usr/bin/env bash
# The reference solution with one mistake: request latency is a Summary, so there are no
# _bucket series, and the latency alert falls back on the average (sum / count), which
# hides a slow tail.
set -euo pipefail
sed -i -e 's/^from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest$/from prometheus_client import CONTENT_TYPE_LATEST, Counter, Summary, generate_latest/' \
  -e 's/^LATENCY = Histogram($/LATENCY = Summary(/' \
  -e '/# 0.5 s is the latency alert/d' -e '/^    buckets=(/d' app/main.py
grep -q '^LATENCY = Summary($' app/main.py && ! grep -q 'buckets=' app/main.py
sed -i '/alert: ChurnApiHighLatency/,/for:/{
  s/^          histogram_quantile(0.95,$/          sum(rate(churn_api_request_duration_seconds_sum{job="churn-api", endpoint="\/predict"}[5m]))/
  s/^            sum by (le) (rate(churn_api_request_duration_seconds_bucket\(.*\)))$/            \/ sum(rate(churn_api_request_duration_seconds_count\1))/
  s/^          ) > 0.5$/            > 0.5/
}' monitoring/alerts.yml
grep -q 'churn_api_request_duration_seconds_count{' monitoring/alerts.yml && ! grep -q histogram_quantile monitoring/alerts.yml
promtool check rules monitoring/alerts.yml >/dev/null
scripts/restart.sh
git commit -q -am "Time requests with a Summary"
