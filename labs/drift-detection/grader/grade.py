"""Checks of the drift-detection lab. Runs in the grader container (trusted, read-only
at /grader), as `python3 /grader/grade.py <mode>`:

  contract      run the candidate's CLI on data/ and check the report's shape
  committed     run it on data/ and check it flags exactly the features that drifted
  report-file   read the committed reports/drift_report.json and check the same
  hidden-drift  run it on the grader's own reference + a week where only debt_to_income drifted
  hidden-stable run it on the grader's own reference + a week without any drift
  tests         run the candidate's pytest suite

The candidate's code runs in a copy of /workspace under /tmp (the workspace is mounted
read-only), one check at a time (a lock: the grader has 1 CPU and 512 MB, and checks
run concurrently). On success prints a JSON summary and exits 0; on failure also prints
one line saying why on stderr (the message the candidate reads) and exits 1.
"""

import fcntl
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

WORKSPACE = Path("/workspace")
GRADER = Path(__file__).resolve().parent
HIDDEN = GRADER / "data"
REPORT_FILE = "reports/drift_report.json"

# The truth, from tools/make_data.py.
COLUMNS = [
    "age",
    "annual_income",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "num_open_accounts",
    "credit_utilization",
]
COMMITTED_DRIFT = {"age", "loan_amount"}
HIDDEN_DRIFT = {"debt_to_income"}

RUN_TIMEOUT = 45
PYTEST_TIMEOUT = 90
MAX_COPY_BYTES = 50 * 1024 * 1024
SKIP = {".git", "__pycache__", ".venv", "venv", ".pytest_cache", "node_modules", ".ipynb_checkpoints", "mlruns"}


class Failed(Exception):
    pass


def copy_workspace(dest: Path) -> Path:
    total = 0
    for root, dirs, files in os.walk(WORKSPACE):
        dirs[:] = [d for d in dirs if d not in SKIP]
        for f in files:
            p = Path(root) / f
            if not p.is_symlink():
                total += p.stat().st_size
    if total > MAX_COPY_BYTES:
        raise Failed(
            f"the repository is {total // 2**20} MB without .git and virtualenvs: too big to run here (keep data and reports small)"
        )
    ws = dest / "ws"
    shutil.copytree(WORKSPACE, ws, symlinks=True, ignore=lambda d, names: [n for n in names if n in SKIP])
    return ws


def child_env(tmp: Path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/opt/venv/bin:/usr/bin:/bin"),
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": str(tmp / "mpl"),
    }


def last_line(text: str) -> str:
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1][:240] if lines else "no output"


def check_starter_data(ws: Path) -> None:
    sums = json.loads((HIDDEN / "starter_sha256.json").read_text())
    for name, want in sums.items():
        p = ws / "data" / name
        if not p.is_file():
            raise Failed(f"data/{name} is missing: restore it (git checkout opslab-start -- data/)")
        if hashlib.sha256(p.read_bytes()).hexdigest() != want:
            raise Failed(f"data/{name} differs from the data you were given: restore it (git checkout opslab-start -- data/)")


def run_report(ws: Path, tmp: Path, reference: Path, current: Path, label: str) -> dict:
    if not (ws / "drift").is_dir():
        raise Failed("there is no drift/ package to run")
    out = tmp / "out" / "drift_report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "drift.report", "--reference", str(reference), "--current", str(current), "--output", str(out)]
    try:
        r = subprocess.run(cmd, check=False, cwd=ws, env=child_env(tmp), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failed(f"`python -m drift.report` on {label} did not finish within {RUN_TIMEOUT} s") from None
    if r.returncode != 0:
        raise Failed(f"`python -m drift.report` on {label} exited {r.returncode}: {last_line(r.stderr or r.stdout)}")
    if not out.is_file():
        raise Failed(f"`python -m drift.report` on {label} exited 0 but wrote nothing at the --output path")
    return load_report(out.read_text(errors="replace"), f"the report for {label}")


def load_report(text: str, what: str) -> dict:
    try:
        report = json.loads(text)
    except json.JSONDecodeError as e:
        raise Failed(f"{what} is not valid JSON: {e}") from None
    if not isinstance(report, dict):
        raise Failed(f"{what} is not a JSON object")
    return report


def contract_problems(report: dict, columns: list[str]) -> list[str]:
    """Everything in the report that breaks the brief's contract, worst first."""
    problems = []
    for key, kind, name in (("drift_detected", bool, "a boolean"), ("drifted_features", list, "a list"), ("features", dict, "an object")):
        if key not in report:
            problems.append(f"`{key}` is missing")
        elif not isinstance(report[key], kind):
            problems.append(f"`{key}` is not {name}")
    if problems:
        return problems
    features = report["features"]
    missing = [c for c in columns if c not in features]
    if missing:
        problems.append(
            f"`features` lacks {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''} (every column of the input must be reported)"
        )
    extra = [k for k in features if k not in columns]
    if extra:
        problems.append(f"`features` has {', '.join(map(str, extra[:4]))}, which is not a column of the input")
    for name in columns:
        entry = features.get(name)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            problems.append(f"`features.{name}` is not an object")
            continue
        if not isinstance(entry.get("method"), str) or not entry["method"].strip():
            problems.append(f'`features.{name}.method` is missing (a name such as "psi" or "ks")')
        stat = entry.get("statistic")
        if isinstance(stat, bool) or not isinstance(stat, (int, float)) or not math.isfinite(stat):
            problems.append(
                f"`features.{name}.statistic` is {json.dumps(stat) if stat is None or isinstance(stat, (bool, str)) else stat}, not a finite number"
            )
        if not isinstance(entry.get("drifted"), bool):
            problems.append(f"`features.{name}.drifted` is not a boolean")
    listed = report["drifted_features"]
    if not all(isinstance(x, str) for x in listed):
        problems.append("`drifted_features` holds something other than feature names")
        return problems
    if len(set(listed)) != len(listed):
        problems.append("`drifted_features` names a feature twice")
    flagged = [n for n in columns if isinstance(features.get(n), dict) and features[n].get("drifted") is True]
    if set(listed) != set(flagged):
        problems.append(
            f"`drifted_features` is {json.dumps(listed)}, but the features marked drifted are {json.dumps(flagged)}: they must be the same"
        )
    if report["drift_detected"] != bool(listed):
        problems.append(f"`drift_detected` is {json.dumps(report['drift_detected'])} while `drifted_features` is {json.dumps(listed)}")
    return problems


def verdict(report: dict, what: str) -> set:
    """The flagged features, after checking the two summary fields are usable."""
    if not isinstance(report.get("drift_detected"), bool) or not isinstance(report.get("drifted_features"), list):
        raise Failed(f"{what} lacks `drift_detected` (boolean) or `drifted_features` (list)")
    return {x for x in report["drifted_features"] if isinstance(x, str)}


def judge_committed(report: dict, what: str) -> dict:
    flagged = verdict(report, what)
    false_alarms = sorted(flagged - COMMITTED_DRIFT)
    missed = COMMITTED_DRIFT - flagged
    if false_alarms:
        raise Failed(f"{what} flags {', '.join(false_alarms)}, whose distribution did not change")
    if missed:
        found = len(COMMITTED_DRIFT) - len(missed)
        raise Failed(f"{what} names {found} drifted feature(s), but more than that drifted in data/current.csv")
    if report["drift_detected"] is not True:
        raise Failed(f"{what} names the drifted features but says drift_detected: {json.dumps(report['drift_detected'])}")
    return {"drifted_features": sorted(flagged)}


def mode_contract(tmp: Path) -> dict:
    ws = copy_workspace(tmp)
    check_starter_data(ws)
    report = run_report(ws, tmp, ws / "data/reference.csv", ws / "data/current.csv", "data/")
    problems = contract_problems(report, COLUMNS)
    if problems:
        raise Failed(f"the report for data/: {problems[0]}" + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""))
    return {"features": len(report["features"]), "methods": sorted({e["method"] for e in report["features"].values()})}


def mode_committed(tmp: Path) -> dict:
    ws = copy_workspace(tmp)
    check_starter_data(ws)
    report = run_report(ws, tmp, ws / "data/reference.csv", ws / "data/current.csv", "data/")
    return judge_committed(report, "the report for data/")


def mode_report_file(tmp: Path) -> dict:
    path = WORKSPACE / REPORT_FILE
    if not path.is_file():
        raise Failed(f"{REPORT_FILE} does not exist: run the report on data/ and commit its output there")
    if path.stat().st_size > 1024 * 1024:
        raise Failed(f"{REPORT_FILE} is larger than 1 MB")
    report = load_report(path.read_text(errors="replace"), REPORT_FILE)
    problems = contract_problems(report, COLUMNS)
    if problems:
        raise Failed(f"{REPORT_FILE}: {problems[0]}")
    return judge_committed(report, REPORT_FILE)


def mode_hidden(tmp: Path, current: str, expected: set) -> dict:
    ws = copy_workspace(tmp)
    # The hidden files are copied too, under other names than the candidate's data.
    data = tmp / "weekly"
    data.mkdir()
    reference = shutil.copy(HIDDEN / "reference.csv", data / "training_sample.csv")
    week = shutil.copy(HIDDEN / current, data / "week.csv")
    label = f"the grader's reference + {current}"
    report = run_report(ws, tmp, Path(reference), Path(week), label)
    problems = contract_problems(report, COLUMNS)
    if problems:
        raise Failed(f"the report for {label}: {problems[0]}")
    flagged = verdict(report, label)
    if flagged != expected or report["drift_detected"] is not bool(expected):
        want = ", ".join(sorted(expected)) or "nothing"
        got = ", ".join(sorted(flagged)) or "nothing"
        raise Failed(
            f"on {label} (drift only in: {want}) the report flags {got} with drift_detected: {json.dumps(report['drift_detected'])}"
        )
    return {"drifted_features": sorted(flagged), "statistics": {k: v["statistic"] for k, v in report["features"].items()}}


def mode_tests(tmp: Path) -> dict:
    ws = copy_workspace(tmp)
    if not (ws / "tests").is_dir():
        raise Failed("there is no tests/ folder")
    junit = tmp / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", "tests"]
    try:
        r = subprocess.run(cmd, check=False, cwd=ws, env=child_env(tmp), capture_output=True, text=True, timeout=PYTEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failed(f"pytest did not finish within {PYTEST_TIMEOUT} s") from None
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    broken = []
    if junit.is_file():
        try:
            root = ET.parse(junit).getroot()
            for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
                for k in counts:
                    counts[k] += int(suite.get(k, 0))
                for case in suite.iter("testcase"):
                    if case.find("failure") is not None or case.find("error") is not None:
                        broken.append(case.get("name", "?"))
        except (ET.ParseError, ValueError):
            pass
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    if r.returncode != 0:
        if broken:
            raise Failed(f"pytest: {len(broken)} test(s) fail, {passed} pass; first failing: {broken[0]}")
        raise Failed(f"pytest exited {r.returncode}: {last_line(r.stdout or r.stderr)}")
    if passed < 2:
        raise Failed(f"pytest passes, but only {passed} test(s) ran and passed: add a test of your own")
    return {"passed": passed, "skipped": counts["skipped"]}


MODES = {
    "contract": mode_contract,
    "committed": mode_committed,
    "report-file": mode_report_file,
    "hidden-drift": lambda tmp: mode_hidden(tmp, "week_drift.csv", HIDDEN_DRIFT),
    "hidden-stable": lambda tmp: mode_hidden(tmp, "week_stable.csv", set()),
    "tests": mode_tests,
}


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: grade.py {{{'|'.join(MODES)}}}")
    with open("/tmp/drift-grader.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with tempfile.TemporaryDirectory(prefix="drift-grader-") as tmp:
            try:
                result = MODES[sys.argv[1]](Path(tmp))
            except Failed as e:
                print(json.dumps({"ok": False, "reason": str(e)}))
                print(e, file=sys.stderr)
                sys.exit(1)
    print(json.dumps({"ok": True, **result}))


if __name__ == "__main__":
    main()
