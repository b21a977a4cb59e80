#!/usr/bin/env bash
# The reference solution with one mistake: the Root cause section of INCIDENT.md is
# replaced by a plausible but wrong story (out of memory), then committed.
set -euo pipefail
python3 - <<'PY'
import re
from pathlib import Path

p = Path("INCIDENT.md")
text = p.read_text()
wrong = (
    "## Root cause\n\n"
    "After the deploy the churn-api process used more memory than the machine allows and was\n"
    "killed by the kernel (OOM). The supervisor restarted it, it ran out of memory again, and\n"
    "so on: a crash loop caused by resource limits that are too tight for the service.\n\n"
)
new, n = re.subn(r"## Root cause\n.*?(?=^## Fix)", wrong, text, flags=re.S | re.M)
assert n == 1
p.write_text(new)
PY
grep -q 'killed by the kernel (OOM)' INCIDENT.md
git commit -q -am "Incident report: root cause"
