#!/usr/bin/env bash
# The reference solution: greeting.txt (laid over the starter) committed on main.
set -euo pipefail
git add greeting.txt
git commit -q -m "Say hello"
