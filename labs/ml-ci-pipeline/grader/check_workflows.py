"""Every workflow under .github/workflows validates against SchemaStore's GitHub workflow
schema (check-jsonschema --builtin-schema vendor.github-workflows). On failure, the last
line of stderr lists each problem as file, path and the schema's best match."""

import glob
import json
import os
import subprocess
import sys

import yaml

WORKSPACE = os.environ.get("CI_SIM_WORKSPACE", "/workspace")


def give_up(why: str) -> None:
    print(json.dumps({"ok": False, "reason": why}))
    print(why, file=sys.stderr)
    sys.exit(1)


def yaml_error(path: str) -> str:
    try:
        with open(os.path.join(WORKSPACE, path), encoding="utf-8") as f:
            yaml.safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        return f"{path}{where}: not valid YAML ({getattr(e, 'problem', None) or str(e).splitlines()[0]})"
    except UnicodeDecodeError:
        return f"{path}: not UTF-8 text"
    return f"{path}: cannot be parsed"


files = sorted(
    glob.glob(os.path.join(WORKSPACE, ".github/workflows/*.yml"))
    + glob.glob(os.path.join(WORKSPACE, ".github/workflows/*.yaml"))
)
if not files:
    give_up("there is no workflow: add a .yml or .yaml file under .github/workflows/")
rel = [os.path.relpath(f, WORKSPACE) for f in files]
r = subprocess.run(
    ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", "-o", "json", *rel],
    cwd=WORKSPACE,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    env={**os.environ, "HOME": "/tmp"},
    timeout=100,
)
try:
    report = json.loads(r.stdout.decode("utf-8", "replace"))
except ValueError:
    give_up(f"check-jsonschema did not answer: {r.stderr.decode('utf-8', 'replace').strip()[-300:]}")
problems = [yaml_error(p["filename"]) for p in report.get("parse_errors", [])]
for e in report.get("errors", []):
    best = e.get("best_match") or e
    problems.append(f"{e.get('filename')} {best.get('path', e.get('path'))}: {best.get('message', e.get('message'))}")
if r.returncode != 0 or problems:
    give_up(f"{len(problems)} schema problem(s): " + "; ".join(problems) if problems else "check-jsonschema failed")
print(json.dumps({"ok": True, "files": rel}))
