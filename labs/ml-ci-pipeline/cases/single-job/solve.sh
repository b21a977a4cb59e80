#!/usr/bin/env bash
set -euo pipefail
git add .github
git commit -q -m "Add the model pipeline"
