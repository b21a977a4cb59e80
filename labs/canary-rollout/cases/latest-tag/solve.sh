#!/usr/bin/env bash
# The reference solution with one mistake: the Rollout runs the `latest` tag.
set -euo pipefail
sed -i 's#churn-api:1\.5\.0#churn-api:latest#' k8s/rollout.yaml
git commit -q -am "Always run the newest image"
