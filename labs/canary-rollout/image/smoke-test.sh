#!/usr/bin/env bash
# kubectl is on PATH for the candidate and runs without a cluster.
set -euo pipefail
command -v kubectl
kubectl version --client
