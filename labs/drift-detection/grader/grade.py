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
run concurrently), confined by /opt/opslab/untrusted.py (Landlock): it may write only in
this call's scratch folder (the copy, its output, HOME, TMPDIR), cannot see /grader, open
no TCP connection and signal or trace nothing outside itself. The hidden weeks it must
read are copied into the scratch folder first, under other names.

On success prints a JSON summary and exits 0; on failure also prints one line saying why
on stderr (the message the candidate reads) and exits 1. When the grader itself cannot
run the code confined (no wrapper, no Landlock), it says so and exits 127, which the
command check reports as an error of the grader, never as the candidate's failure.
"""

import fcntl
import hashlib
import json
import math
import os
import shutil
import stat
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
# More than any report or JUnit file of this lab.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
SKIP = {".git", "__pycache__", ".venv", "venv", ".pytest_cache", "node_modules", ".ipynb_checkpoints", "mlruns"}
# Mounted read-only in every grader container by the opslab server.
UNTRUSTED = "/opt/opslab/untrusted.py"
# What the wrapper exits with when it refuses to run anything (and says "untrusted.py: ...").
WRAPPER_REFUSED = 126
# What this script exits with when the grader, not the candidate, is at fault: the command
# check reports exit 127 as an error of the grader.
GRADER_FAULT = 127


class Failed(Exception):
    pass


class GraderFault(Exception):
    """The grader could not do its job (the confinement is missing or refused): not the candidate's fault."""


def confined(cmd: list, rw: list) -> list:
    """`cmd` run through the wrapper, writing only in `rw` (no /grader, no TCP, no signals out)."""
    if not os.path.isfile(UNTRUSTED):
        raise GraderFault(f"the grader cannot confine the candidate's code: {UNTRUSTED} is missing from the grader container")
    argv = [sys.executable, UNTRUSTED]
    for d in rw:
        argv += ["--rw", str(d)]
    return [*argv, "--", *cmd]


def wrapper_refused(r: subprocess.CompletedProcess, rw: list, env: dict) -> None:
    """Raises GraderFault when exit 126 came from the wrapper itself, not from the candidate's
    code (which could print the same words): the wrapper, run again on a no-op with the same
    folders, refuses too."""
    if r.returncode != WRAPPER_REFUSED or "untrusted.py: " not in (r.stderr or ""):
        return
    probe = subprocess.run(
        confined([sys.executable, "-c", ""], rw), check=False, env=env, capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        raise GraderFault(f"the grader could not run the candidate's code confined: {last_line(probe.stderr or probe.stdout)}")


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
    # The only folder the confined code may write is tmp: temporary files go there too.
    (tmp / "tmp").mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/opt/venv/bin:/usr/bin:/bin"),
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": str(tmp / "mpl"),
        "TMPDIR": str(tmp / "tmp"),
    }


def run_candidate(cmd: list, ws: Path, tmp: Path, timeout: int) -> subprocess.CompletedProcess:
    """The candidate's `cmd`, run from their copy `ws`, confined to writing in `tmp`."""
    env = child_env(tmp)
    r = subprocess.run(confined(cmd, [tmp]), check=False, cwd=ws, env=env, capture_output=True, text=True, timeout=timeout)
    wrapper_refused(r, [tmp], env)
    return r


def read_output(path: Path, root: Path):
    """The bytes of a file the candidate's code wrote, or None: only a regular file in a
    folder inside `root` counts (never a link the code left there to make the grader read
    elsewhere)."""
    root_real = os.path.realpath(root)
    parent = os.path.realpath(path.parent)
    if os.path.commonpath([parent, root_real]) != root_real:
        return None
    try:
        fd = os.open(os.path.join(parent, path.name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(MAX_OUTPUT_BYTES)


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
        r = run_candidate(cmd, ws, tmp, RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failed(f"`python -m drift.report` on {label} did not finish within {RUN_TIMEOUT} s") from None
    if r.returncode != 0:
        raise Failed(f"`python -m drift.report` on {label} exited {r.returncode}: {last_line(r.stderr or r.stdout)}")
    data = read_output(out, tmp)
    if data is None:
        raise Failed(f"`python -m drift.report` on {label} exited 0 but wrote nothing at the --output path")
    return load_report(data.decode(errors="replace"), f"the report for {label}")


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
        r = run_candidate(cmd, ws, tmp, PYTEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failed(f"pytest did not finish within {PYTEST_TIMEOUT} s") from None
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    broken = []
    junit_xml = read_output(junit, tmp)
    if junit_xml is not None:
        try:
            root = ET.fromstring(junit_xml)
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
            except GraderFault as e:
                print(json.dumps({"ok": False, "grader_error": str(e)}))
                print(f"{e} (a fault of the grader, not of the work graded)", file=sys.stderr)
                sys.exit(GRADER_FAULT)
    print(json.dumps({"ok": True, **result}))


if __name__ == "__main__":
    main()
