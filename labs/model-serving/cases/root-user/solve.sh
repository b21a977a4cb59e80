#!/usr/bin/env bash
# The reference solution with one mistake: the churn user is created, but the USER line
# is gone, so the service runs as root (hadolint says nothing: no USER is not a lint).
set -euo pipefail
sed -i '/^USER churn$/d' Dockerfile
! grep -q '^USER' Dockerfile
git commit -q -am "Run the API from the image's default user"
