#!/usr/bin/env bash
# The reference solution with one mistake: the canary starts at 50% of the traffic
# (weights 50 → 75 → 90, still rising), losing first-step-small.
set -euo pipefail
sed -i -e 's/setWeight: 50$/setWeight: 90/' -e 's/setWeight: 25$/setWeight: 75/' -e 's/setWeight: 10$/setWeight: 50/' k8s/rollout.yaml
git commit -q -am "Move faster: start the canary at half the traffic"
