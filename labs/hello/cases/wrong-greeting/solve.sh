#!/usr/bin/env bash
set -euo pipefail
echo "goodbye" > greeting.txt
git add greeting.txt
git commit -q -m "Add greeting"
