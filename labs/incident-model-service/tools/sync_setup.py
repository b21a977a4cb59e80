"""Keeps the files that lab.yaml's setup steps write in sync with their sources.

Two setup steps write a file with a quoted heredoc (`<<'MARKER'` ... `MARKER`):
  PUBLISH_MODELS  grader/churn_models.py  (run as root: publishes the model store)
  CHURN_API       tools/churn-api         (installed as /usr/local/bin/churn-api)

    /opt/venv/bin/python3 labs/incident-model-service/tools/sync_setup.py          # rewrite lab.yaml
    /opt/venv/bin/python3 labs/incident-model-service/tools/sync_setup.py --check  # exit 1 if out of date
"""
import re
import sys
from pathlib import Path

LAB = Path(__file__).resolve().parent.parent
SOURCES = {"PUBLISH_MODELS": LAB / "grader" / "churn_models.py", "CHURN_API": LAB / "tools" / "churn-api"}


def sync(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = re.search(r"<<'([A-Z_]+)'\s*$", line)
        if m and m.group(1) in SOURCES:
            marker = m.group(1)
            indent = re.match(r"\s*", line).group(0)
            end = next(j for j in range(i + 1, len(lines)) if lines[j] == indent + marker)
            body = SOURCES[marker].read_text().rstrip("\n").split("\n")
            out.extend(indent + b if b else "" for b in body)
            out.append(lines[end])
            i = end + 1
            continue
        i += 1
    return "\n".join(out)


if __name__ == "__main__":
    path = LAB / "lab.yaml"
    old = path.read_text()
    new = sync(old)
    if "--check" in sys.argv:
        if new != old:
            print("lab.yaml is out of date: run tools/sync_setup.py", file=sys.stderr)
            sys.exit(1)
        print("lab.yaml is in sync")
    else:
        path.write_text(new)
        print("lab.yaml synced" if new != old else "lab.yaml already in sync")
