#!/usr/bin/env bash
set -euo pipefail
echo "HELLO WORLD" > greeting.txt
git add greeting.txt
git commit -q -m "Add a greeting"
echo "Greeting lives in greeting.txt" >> README.md
git commit -q -am "Mention the greeting in the README"
