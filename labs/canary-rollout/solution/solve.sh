#!/usr/bin/env bash
# The reference solution: the Deployment becomes a Rollout with its own pod template
# (k8s/rollout.yaml, laid over the starter), the analysis lives in k8s/analysis.yaml,
# and the old Deployment is removed so that only the Rollout's pods serve traffic.
set -euo pipefail
git rm -q k8s/deployment.yaml
git add -A k8s
git commit -q -m "Ship churn-api 1.5.0 as an Argo Rollouts canary with success-rate analysis"
