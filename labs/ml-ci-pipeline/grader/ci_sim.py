"""Grades the candidate's GitHub Actions workflow(s) for the credit-risk repository.

    python3 /grader/ci_sim.py CHECK_ID

Prints one JSON line {"check", "ok", "reason"}; on a failed check also prints the reason
as the last line of stderr (the message the candidate reads) and exits 1.

Everything is computed once per state of the workspace and cached in /tmp (the checks
run in parallel; the first takes a lock and computes, the others read its answer):

- static checks read the workflows and work out, from their triggers and `if:`
  conditions, which steps run for a pull request into main, a push to main and a push to
  a feature branch (gha_emul.plan);
- behaviour checks run the workflows for a push to main in the emulator (gha_emul.Runner)
  twice, each time with data/loans.csv swapped for a grader copy whose labels are
  partly flipped: the starter's model scores ~0.83 on the "pass" book (above the 0.80
  bar) and ~0.73 on the "fail" book. The first run must be green and build the image,
  the second must fail after training, at a step that passed in the first, and build
  nothing;
- repo-green runs ruff check and pytest on a copy of the repository.

Everything of the candidate's - the workflows' `run:` steps, pytest on their code, and ruff
(their configuration can name any file) - runs confined through /opt/opslab/untrusted.py
(confine.py): it cannot see /grader, writes only its own scratch folders, has no TCP. The
copies of the repository are made by a confined helper too (jobfiles.py), so a link or a
folder swapped for one never makes the grader's process read /grader for the candidate.
If the wrapper refuses to run at all, every check reports the grader's error (exit 127).
"""


from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gha_emul as G  # noqa: E402
from confine import GraderProblem, confined, ensure_confinement, grader_problem  # noqa: E402
from gha_expr import Evaluator, ExprError, to_string  # noqa: E402

GRADER = os.path.dirname(os.path.abspath(__file__))
WORKSPACE = os.environ.get("CI_SIM_WORKSPACE", "/workspace")
STATE = os.environ.get("CI_SIM_STATE", "/tmp/ci-sim")
PASS_BOOK = os.path.join(GRADER, "loans_pass.csv")
FAIL_BOOK = os.path.join(GRADER, "loans_fail.csv")
DATA_PATH = "data/loans.csv"
THRESHOLD = 0.80
PYTHON_OK = ("3.11",)

CHECKS = [
    "triggers",
    "lint",
    "tests",
    "train",
    "python",
    "gate-blocks",
    "pipeline-green",
    "build-main-only",
    "build-after-gate",
    "repo-green",
]


def one_line(text: str, limit: int = 400) -> str:
    text = " | ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def git(*args: str) -> str:
    r = subprocess.run(
        ["git", "-c", "safe.directory=*", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", *args],
        cwd=WORKSPACE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "GIT_CONFIG_NOSYSTEM": "1", "GIT_OPTIONAL_LOCKS": "0"},
        timeout=30,
    )
    return r.stdout.decode("utf-8", "replace") if r.returncode == 0 else ""


# ------------------------------------------------------------------------------------------
# Cache
# ------------------------------------------------------------------------------------------


def fingerprint() -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(GRADER)):
        p = os.path.join(GRADER, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    total = 0
    for dirpath, dirnames, filenames in os.walk(WORKSPACE):
        dirnames[:] = sorted(d for d in dirnames if not (d == ".git" and dirpath == WORKSPACE))
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            rel = os.path.relpath(p, WORKSPACE)
            h.update(rel.encode() + b"\0")
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
            elif os.path.isfile(p) and total < 64 * 1024 * 1024:
                with open(p, "rb") as f:
                    data = f.read()
                total += len(data)
                h.update(data)
    for p in (".git/HEAD", ".git/index"):
        full = os.path.join(WORKSPACE, p)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                h.update(f.read())
    h.update(git("rev-parse", "HEAD").encode())
    return h.hexdigest()[:24]


def cached_results() -> dict:
    os.makedirs(STATE, exist_ok=True)
    with open(os.path.join(STATE, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fp = fingerprint()
        cache = os.path.join(STATE, f"results-{fp}.json")
        if os.path.exists(cache):
            with open(cache) as f:
                return json.load(f)
        for old in glob.glob(os.path.join(STATE, "results-*.json")) + glob.glob(os.path.join(STATE, "run-*")):
            if os.path.isdir(old):
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.remove(old)
        ensure_confinement()
        results = compute(os.path.join(STATE, f"run-{fp}"))
        with open(cache, "w") as f:
            json.dump(results, f)
        shutil.rmtree(os.path.join(STATE, f"run-{fp}"), ignore_errors=True)
        return results


# ------------------------------------------------------------------------------------------
# The repository, as a checkout would see it
# ------------------------------------------------------------------------------------------


def checkout_files() -> list[str]:
    """Tracked and untracked files, without ignored ones (artifacts/, metrics.json...)."""
    out = git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    files = [f for f in out.split("\0") if f]
    return [f for f in files if os.path.lexists(os.path.join(WORKSPACE, f))]


def prepare_source(dest: str, files: list[str], book: str | None, tools: str) -> None:
    """A copy of the repository (links left out; .git with its links kept as links), made
    by a confined helper that may write only `dest`; then the grader's loan book, if any."""
    os.makedirs(dest)
    pairs = []
    for rel in files:
        src = os.path.join(WORKSPACE, rel)
        if os.path.islink(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            continue
        pairs.append([src, os.path.join(dest, rel)])
    done = G.job_files(tools, "files", {"pairs": pairs, "plain": True}, rw=[dest])
    if not done.get("error") and os.path.isdir(os.path.join(WORKSPACE, ".git")):
        done = G.job_files(tools, "trees", {"pairs": [[os.path.join(WORKSPACE, ".git"), os.path.join(dest, ".git")]]}, rw=[dest])
    if done.get("error"):
        raise OSError(f"cannot copy the repository: {done['error']}")
    if book:
        os.makedirs(os.path.join(dest, "data"), exist_ok=True)
        shutil.copyfile(book, os.path.join(dest, DATA_PATH))


# ------------------------------------------------------------------------------------------
# Describing things
# ------------------------------------------------------------------------------------------


def where(wf_path: str, job: str, name: str) -> str:
    return f"step '{name}' (job {job} in {wf_path})"


def acc_of(log: G.RunLog) -> float | None:
    for s in reversed(log.steps):
        if s.metrics and isinstance(s.metrics.get("accuracy"), (int, float)):
            return float(s.metrics["accuracy"])
    return None


def fmt_acc(v: float | None, fallback: str) -> str:
    return f"{v:.3f}" if v is not None else fallback


def failure_detail(s: G.StepRecord) -> str:
    last = s.tail.splitlines()[-1] if s.tail else ""
    return one_line(f"{s.note}{': ' + last if last else ''}", 220)


# ------------------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------------------


def scenarios_run(wfs: list[G.Workflow]) -> list[G.Scenario]:
    return [s for s in (G.PR, G.PUSH_MAIN) if any(G.triggered(wf, s) for wf in wfs)]


def check_triggers(wfs, plans) -> tuple[bool, str]:
    pr = [wf.path for wf in wfs if G.triggered(wf, G.PR)]
    main = [wf.path for wf in wfs if G.triggered(wf, G.PUSH_MAIN)]
    if not pr and not main:
        return False, "no workflow runs for a pull request into main or for a push to main (look at `on:`)"
    if not pr:
        return (
            False,
            "no workflow runs for a pull request into main: add a pull_request trigger (its `branches` filter is the target branch)",
        )
    if not main:
        return False, "no workflow runs for a push to main: add a push trigger that includes main"
    return True, f"pull requests into main start {', '.join(pr)}; pushes to main start {', '.join(main)}"


def check_kind(wfs, plans, kind: str, what: str) -> tuple[bool, str]:
    scs = scenarios_run(wfs)
    if not scs:
        return False, "no workflow runs for a pull request into main or a push to main"
    for sc in scs:
        found = [r for r in plans[sc.key] if kind in G.kinds(r.step)]
        if not found:
            anywhere = any(kind in G.kinds(s) for wf in wfs for j in wf.jobs.values() for s in j.steps)
            extra = " (there is such a step, but its job or step `if:` skips it)" if anywhere else ""
            return False, f"no step runs {what} for {sc.label}{extra}"
    return True, f"{what} runs for " + " and ".join(s.label for s in scs)


def check_train(wfs, plans) -> tuple[bool, str]:
    scs = scenarios_run(wfs)
    if not scs:
        return False, "no workflow runs for a pull request into main or a push to main"
    for sc in scs:
        reached = plans[sc.key]
        trains = [r for r in reached if "train" in G.kinds(r.step)]
        evals = [r for r in reached if "evaluate" in G.kinds(r.step)]
        if not trains:
            return False, f"no step runs `python train.py` for {sc.label}"
        if not evals:
            return False, f"no step runs `python evaluate.py` for {sc.label}"
        ordered = any(
            e.wf is t.wf
            and ((e.job is t.job and e.step.index >= t.step.index) or t.job.id in G.upstream_jobs(e.wf, e.job))
            for t in trains
            for e in evals
        )
        if not ordered:
            return (
                False,
                f"for {sc.label}, evaluate.py does not run after train.py (same job, a later step; or a job that `needs` the training job)",
            )
    return True, "train.py then evaluate.py run for " + " and ".join(s.label for s in scs)


def _python_version_ok(value: str) -> bool:
    v = value.strip().strip("'\"")
    return any(v == ok or v.startswith(ok + ".") for ok in PYTHON_OK)


def check_python(wfs, plans) -> tuple[bool, str]:
    scs = scenarios_run(wfs)
    if not scs:
        return False, "no workflow runs for a pull request into main or a push to main"
    seen = set()
    checked = 0
    for sc in scs:
        for r in plans[sc.key]:
            k = G.kinds(r.step)
            if not k & {"test", "train", "evaluate"}:
                continue
            key = (r.wf.path, r.job.id)
            if key in seen:
                continue
            seen.add(key)
            setups = [s for s in r.job.steps[: r.step.index] if "setup-python" in G.kinds(s)]
            if not setups:
                return (
                    False,
                    f"job {r.job.id} ({r.wf.path}) runs Python ('{r.step.name}') without an actions/setup-python step before it",
                )
            s = setups[-1]
            with_ = s.raw.get("with") if isinstance(s.raw.get("with"), dict) else {}
            ctx = G.base_contexts(sc, "/home/runner/work")
            ctx["matrix"] = G.first_matrix(r.job)
            ev = Evaluator(ctx)
            try:
                if "python-version" in with_:
                    raw = with_["python-version"]
                    version = to_string(ev.interpolate(raw)) if isinstance(raw, str) else to_string(raw)
                    source = "python-version"
                else:
                    vf = to_string(ev.interpolate(with_.get("python-version-file", ".python-version")))
                    path = os.path.join(WORKSPACE, vf)
                    if not os.path.isfile(path) or not G._under(path, [WORKSPACE]):
                        return (
                            False,
                            f"actions/setup-python in job {r.job.id} names no python-version, and {vf} does not exist",
                        )
                    with open(path, encoding="utf-8", errors="replace") as f:
                        version = (f.read().strip().splitlines() or [""])[0]
                    source = vf
            except ExprError as e:
                return False, f"cannot read the python-version of actions/setup-python in job {r.job.id}: {e}"
            if not _python_version_ok(version):
                hint = " (YAML reads 3.10 as the number 3.1: quote versions)" if version in ("3.1", "3.2") else ""
                return (
                    False,
                    f"job {r.job.id} sets up Python {version!r} (from {source}), not 3.11 like the image{hint}",
                )
            checked += 1
    if not checked:
        return False, "no job runs pytest, train.py or evaluate.py, so there is no Python set-up to check"
    return True, f"every job that runs tests or training sets up Python 3.11 ({checked} job(s))"


def gate_step(faillog: G.RunLog) -> G.StepRecord | None:
    """The first step that failed the run with the bad model at or after training (failures
    before training - in other workflows, say - are not the gate)."""
    first_train = next((s for s in faillog.executed() if "train" in s.kinds), None)
    if first_train is None:
        return None
    return next((s for s in faillog.executed() if s.conclusion == "failure" and s.seq >= first_train.seq), None)


def check_gate(wfs, plans, dyn, passlog, faillog) -> tuple[bool, str]:
    if dyn is None:
        return False, "no workflow runs for a push to main or a pull request into main"
    a_pass, a_fail = acc_of(passlog), acc_of(faillog)
    f = gate_step(faillog)
    if f is None:
        if not any("train" in s.kinds for s in faillog.executed()):
            first = next((s for s in faillog.executed() if s.conclusion == "failure"), None)
            if first:
                return False, (
                    f"in {dyn.label} the run stopped at {where(first.wf, first.job, first.name)} before training, "
                    f"so the gate could not be tried: {failure_detail(first)}"
                )
            return False, f"in {dyn.label} no step ran `python train.py`, so there was no model to gate"
        coe = [s for s in faillog.executed() if s.outcome == "failure" and s.conclusion == "success" and not s.soft]
        extra = (
            f" ({where(coe[0].wf, coe[0].job, coe[0].name)} failed, but continue-on-error let the job go on)"
            if coe
            else ""
        )
        return False, (
            f"a model scoring accuracy {fmt_acc(a_fail, '~0.73')} (below {THRESHOLD:.2f}) went through {dyn.label} without any step failing{extra}: "
            "nothing fails the job when metrics.json is below the bar"
        )
    twin = next((s for s in passlog.steps if s.key() == f.key()), None)
    skipped_by_condition = (
        twin is not None
        and twin.outcome == "skipped"
        and twin.note == ""
        and not any(s.conclusion == "failure" and (s.wf, s.job) == (twin.wf, twin.job) and s.seq < twin.seq for s in passlog.steps)
    )
    if twin is None or (twin.outcome == "skipped" and not skipped_by_condition):
        return (
            False,
            f"{where(f.wf, f.job, f.name)} fails for a model below the bar, but the run with a model at {fmt_acc(a_pass, '~0.83')} never reached it, so it cannot be told apart from a broken step",
        )
    if twin.conclusion == "failure":
        return (
            False,
            f"{where(f.wf, f.job, f.name)} also fails for a model scoring {fmt_acc(a_pass, '~0.83')} (above {THRESHOLD:.2f}), so it does not gate on the accuracy: {failure_detail(twin)}",
        )
    if any(G.triggered(wf, G.PR) for wf in wfs):
        on_pr = any(r.wf.path == f.wf and r.job.id == f.job and r.step.index == f.index for r in plans["pr"])
        if not on_pr:
            return (
                False,
                f"the gate, {where(f.wf, f.job, f.name)}, does not run for pull requests into main: a bad model would be caught only after merging",
            )
    passed = "is skipped" if skipped_by_condition else "passes"
    return (
        True,
        f"with accuracy {fmt_acc(a_fail, '~0.73')} the run fails at {where(f.wf, f.job, f.name)}; with {fmt_acc(a_pass, '~0.83')} that step {passed}",
    )


def check_green(dyn, passlog) -> tuple[bool, str]:
    if dyn is None:
        return False, "no workflow runs for a push to main or a pull request into main"
    a = fmt_acc(acc_of(passlog), "~0.83")
    bad = [s for s in passlog.executed() if s.conclusion == "failure" or s.soft]
    if bad:
        s = bad[0]
        return (
            False,
            f"in {dyn.label} with a model scoring {a} (above {THRESHOLD:.2f}), {where(s.wf, s.job, s.name)} failed: {failure_detail(s)}",
        )
    ran = {k for s in passlog.executed() if s.outcome == "success" for k in s.kinds}
    for kind, what in (("train", "python train.py"), ("evaluate", "python evaluate.py")):
        if kind not in ran:
            return False, f"in {dyn.label} no step ran {what}"
    n = len(passlog.executed())
    return (
        True,
        f"in {dyn.label} with a model scoring {a}, all {n} steps that ran passed ({', '.join(sorted(set(w for w, _ in passlog.workflows)))})",
    )


def _after(wfs, build: G.Reached, gate: G.StepRecord) -> bool:
    if build.wf.path != gate.wf:
        return False
    if build.job.id == gate.job:
        return build.step.index > gate.index
    return gate.job in G.upstream_jobs(build.wf, build.job)


def check_build_after_gate(wfs, plans, dyn, passlog, faillog) -> tuple[bool, str]:
    if dyn is not G.PUSH_MAIN:
        return False, "no workflow runs for a push to main, so the image is never built"
    builds = [r for r in plans["push-main"] if "build" in G.kinds(r.step)]
    if not builds:
        return False, "no image build runs for a push to main (docker build, or docker/build-push-action)"
    if faillog.builds:
        b = faillog.builds[0]
        return (
            False,
            f"in a push to main with a model scoring {fmt_acc(acc_of(faillog), '~0.73')} (below {THRESHOLD:.2f}), the image was still built by step '{b['name']}' (job {b['job']}): the build must wait for the gate",
        )
    a_pass, a_fail = fmt_acc(acc_of(passlog), "~0.83"), fmt_acc(acc_of(faillog), "~0.73")
    if passlog.builds:
        return (
            True,
            f"a push to main builds the image after a model at {a_pass} passed the gate, and does not build it for a model at {a_fail}",
        )
    # The good run never got to the build: judge the order from the workflow itself.
    gate = gate_step(faillog)
    stop = next((s for s in passlog.executed() if s.conclusion == "failure"), None)
    stopped = (
        f" (the run with a model at {a_pass} failed at {where(stop.wf, stop.job, stop.name)} first)" if stop else ""
    )
    if gate is not None and all(_after(wfs, b, gate) for b in builds):
        return (
            True,
            f"the image build comes after the gate, {where(gate.wf, gate.job, gate.name)}, and a model at {a_fail} builds nothing{stopped}",
        )
    if gate is None:
        return (
            False,
            f"no image was built in a push to main{stopped}, and no gate stopped a model at {a_fail}, so the build's place after a gate cannot be shown",
        )
    return (
        False,
        f"no image was built in a push to main{stopped}, and '{builds[0].step.name}' (job {builds[0].job.id}) is not after the gate {where(gate.wf, gate.job, gate.name)}: it needs a later step in that job, or a job that `needs` it",
    )


def check_build_main_only(wfs, plans) -> tuple[bool, str]:
    main = [r for r in plans["push-main"] if "build" in G.kinds(r.step)]
    if not main:
        anywhere = [(wf, s) for wf in wfs for j in wf.jobs.values() for s in j.steps if "build" in G.kinds(s)]
        if not anywhere:
            return False, "no step builds the image (docker build, or docker/build-push-action)"
        return (
            False,
            f"the image build ('{anywhere[0][1].name}' in {anywhere[0][0].path}) does not run for a push to main (its workflow's triggers or an `if:` skip it)",
        )
    for sc in (G.PR, G.PUSH_FEATURE):
        built = [r for r in plans[sc.key] if "build" in G.kinds(r.step)]
        if built:
            r = built[0]
            via = f", started by {r.via}" if r.via.startswith("workflow_run") else ""
            return (
                False,
                f"the image is also built for {sc.label}: step '{r.step.name}' (job {r.job.id} in {r.wf.path}{via})",
            )
    return True, "the image is built for a push to main, and not for pull requests or pushes to other branches"


def check_repo_green(root: str, files: list[str], tools: str) -> tuple[bool, str]:
    repo = os.path.join(root, "repo-green")
    prepare_source(repo, files, None, tools)
    home, tmp = os.path.join(root, "home-repo-green"), os.path.join(root, "tmp-repo-green")
    os.makedirs(home)
    os.makedirs(tmp)
    env = {
        "PATH": f"{os.path.dirname(G.PYTHON)}:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # ruff reads only (its configuration is the candidate's and may name any file);
    # pytest runs the candidate's code: it may write the copy, its HOME and its TMPDIR.
    r = subprocess.run(
        confined(["ruff", "check", "--no-cache", "."]),
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
    )
    if r.returncode != 0:
        out = r.stdout.decode("utf-8", "replace")
        first = next((ln for ln in out.splitlines() if ln.strip() and not ln.startswith(" ")), "")
        return False, one_line(
            f"`ruff check .` fails on the repository: {first} ... {out.strip().splitlines()[-1] if out.strip() else ''}"
        )
    r = subprocess.run(
        confined([G.PYTHON, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], rw=[repo, home, tmp]),
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    if r.returncode != 0:
        out = r.stdout.decode("utf-8", "replace").strip().splitlines()
        failed = [ln for ln in out if ln.startswith("FAILED") or ln.startswith("ERROR")]
        return False, one_line(
            f"pytest fails on the repository: {(failed or out or ['no output'])[0]} ({out[-1] if out else ''})"
        )
    return True, "ruff check and pytest pass on the repository"


# ------------------------------------------------------------------------------------------


def compute(root: str) -> dict:
    os.makedirs(root, exist_ok=True)
    tools = G.shim_tools(root)
    results: dict[str, tuple[bool, str]] = {}
    files = checkout_files()
    if not files:
        files = [
            os.path.relpath(p, WORKSPACE)
            for p in glob.glob(os.path.join(WORKSPACE, "**"), recursive=True)
            if os.path.isfile(p) and "/.git/" not in p
        ]
    try:
        results["repo-green"] = check_repo_green(root, files, tools)
    except subprocess.TimeoutExpired:
        results["repo-green"] = (False, "ruff check or pytest did not finish in time")

    def fail_all(reason: str) -> dict:
        for c in CHECKS:
            results.setdefault(c, (False, reason))
        return {k: list(v) for k, v in results.items()}

    try:
        wfs = G.load_workflows(WORKSPACE)
    except G.LoadError as e:
        return fail_all(str(e))
    if not wfs:
        return fail_all("there is no workflow: add a .yml or .yaml file under .github/workflows/")
    if not any(wf.jobs for wf in wfs):
        return fail_all("the workflows have no jobs")

    plans = {sc.key: G.plan(wfs, sc) for sc in (G.PR, G.PUSH_MAIN, G.PUSH_FEATURE)}
    results["triggers"] = check_triggers(wfs, plans)
    results["lint"] = check_kind(wfs, plans, "lint", "`ruff check`")
    results["tests"] = check_kind(wfs, plans, "test", "pytest")
    results["train"] = check_train(wfs, plans)
    results["python"] = check_python(wfs, plans)
    results["build-main-only"] = check_build_main_only(wfs, plans)

    dyn = (
        G.PUSH_MAIN
        if any(G.triggered(wf, G.PUSH_MAIN) for wf in wfs)
        else G.PR
        if any(G.triggered(wf, G.PR) for wf in wfs)
        else None
    )
    passlog = faillog = G.RunLog()
    if dyn is not None:
        git_files = set(f for f in git("ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0") if f)
        for label, book in (("pass", PASS_BOOK), ("fail", FAIL_BOOK)):
            src = os.path.join(root, f"src-{label}")
            prepare_source(src, files, book, tools)
            reuse = passlog if label == "fail" else None
            runner = G.Runner(wfs, os.path.join(root, f"sim-{label}"), src, git_files, budget_s=70.0, reuse=reuse)
            os.makedirs(runner.root, exist_ok=True)
            log = runner.run(dyn)
            if label == "pass":
                passlog = log
            else:
                faillog = log
    results["gate-blocks"] = check_gate(wfs, plans, dyn, passlog, faillog)
    results["pipeline-green"] = check_green(dyn, passlog)
    results["build-after-gate"] = check_build_after_gate(wfs, plans, dyn, passlog, faillog)
    if G.EXPR_ERRORS:
        note = " - and GitHub would reject this expression: " + sorted(G.EXPR_ERRORS)[0]
        for k in ("triggers", "lint", "tests", "train", "python", "build-main-only"):
            if not results[k][0]:
                results[k] = (False, results[k][1] + note)
    out = {k: list(v) for k, v in results.items()}
    if os.environ.get("CI_SIM_DEBUG"):
        out["_debug"] = {
            label: [
                {
                    "wf": s.wf,
                    "job": s.job,
                    "step": s.name,
                    "outcome": s.outcome,
                    "conclusion": s.conclusion,
                    "soft": s.soft,
                    "note": s.note,
                    "tail": s.tail[-300:],
                    "s": round(s.seconds, 2),
                }
                for s in log.steps
            ]
            + [{"builds": log.builds, "notes": log.notes, "workflows": log.workflows}]
            for label, log in (("pass", passlog), ("fail", faillog))
        }
    return out


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS + ["all"]:
        print(f"usage: ci_sim.py {{{'|'.join(CHECKS)}|all}}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        results = cached_results()
    except GraderProblem as e:
        grader_problem(str(e))
    if sys.argv[1] == "all":
        print(json.dumps(results, indent=2))
        return 0
    ok, reason = results.get(sys.argv[1], (False, "the grader computed no result for this check"))
    print(
        json.dumps({"check": sys.argv[1], "ok": ok, "reason": reason, "seconds": round(time.monotonic() - started, 1)})
    )
    if not ok:
        print(one_line(reason, 600), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
