#!/usr/bin/env bash
# The reference solution with one mistake: the Rollout names an AnalysisTemplate that
# does not exist (success-rate instead of churn-api-success-rate).
set -euo pipefail
sed -i 's/templateName: churn-api-success-rate/templateName: success-rate/' k8s/rollout.yaml
git commit -q -am "Shorter analysis name"
