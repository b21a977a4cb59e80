"""A small GitHub Actions emulator, enough to judge an ML pipeline's workflow.

- Triggers: push / pull_request(_target) with branch filters, workflow_run chains.
- `if:` on jobs and steps, `needs`, status functions, continue-on-error, job outputs,
  step outputs (GITHUB_OUTPUT), GITHUB_ENV, GITHUB_PATH, env at every level, matrix (first
  combination), defaults.run (shell, working-directory).
- `run:` steps run for real (bash -e by default, as on ubuntu-latest) in a fresh,
  empty workspace per job. actions/checkout copies the repository (tracked and untracked
  files, never ignored ones), actions/upload-artifact and actions/download-artifact move
  files between jobs the way v4 does (the least common ancestor of the uploaded paths is
  the artifact's root), docker/build-push-action and `docker build` check that the
  Dockerfile and every file it copies exist in the context (Git context: committed files
  only) and record an image build. Other actions are skipped.
- No network: pip/apt/uv installs are no-ops (the requirements are preinstalled).
- Confined: every `run:` step is the candidate's code and runs through
  /opt/opslab/untrusted.py (confine.py): it writes only its job's workspace and
  runner.temp, the runner's HOME and the emulator's event log, never reads /grader, has no
  TCP. The emulator's own work on paths a workflow names or a step could have replaced by
  a link (checkout, artifacts, the Dockerfile of a build, metrics.json) is done by confined
  helpers too, so no path the candidate controls is ever opened by the grader's process.

`plan()` answers "which steps would run for this event", assuming every step succeeds;
`Runner` runs a scenario for real and records each step.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from confine import GraderProblem, confined, run_helper
from gha_expr import UNKNOWN, Evaluator, ExprError, to_string

PYTHON = "/opt/venv/bin/python3" if os.path.exists("/opt/venv/bin/python3") else shutil.which("python3") or "python3"
GRADER_DIR = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------


class LoadError(Exception):
    pass


@dataclass
class Step:
    index: int
    raw: dict

    @property
    def name(self) -> str:
        r = self.raw
        if r.get("name"):
            return str(r["name"])
        if r.get("uses"):
            return f"Run {r['uses']}"
        run = str(r.get("run", "")).strip().splitlines()
        return f"Run {run[0][:60]}" if run else f"step {self.index + 1}"

    @property
    def id(self) -> str | None:
        return str(self.raw["id"]) if self.raw.get("id") is not None else None

    @property
    def uses(self) -> str:
        return str(self.raw.get("uses") or "")

    @property
    def run(self) -> str:
        return "" if self.raw.get("run") is None else str(self.raw["run"])


@dataclass
class Job:
    id: str
    raw: dict
    steps: list[Step]

    @property
    def needs(self) -> list[str]:
        n = self.raw.get("needs")
        if n is None:
            return []
        return [str(x) for x in n] if isinstance(n, list) else [str(n)]

    @property
    def name(self) -> str:
        return str(self.raw.get("name") or self.id)


@dataclass
class Workflow:
    path: str
    raw: dict
    on: dict[str, Any]
    jobs: dict[str, Job]

    @property
    def name(self) -> str:
        return str(self.raw.get("name") or self.path)


def _events(on: Any) -> dict[str, Any]:
    if on is None:
        return {}
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(e): None for e in on}
    if isinstance(on, dict):
        return {str(k): v for k, v in on.items()}
    return {}


def load_workflows(workspace: str) -> list[Workflow]:
    folder = os.path.join(workspace, ".github", "workflows")
    files = sorted(glob.glob(os.path.join(folder, "*.yml")) + glob.glob(os.path.join(folder, "*.yaml")))
    out = []
    for f in files:
        rel = os.path.relpath(f, workspace)
        try:
            with open(f, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh)
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise LoadError(f"{rel} is not valid YAML: {str(e).splitlines()[0]}") from e
        if not isinstance(doc, dict):
            raise LoadError(f"{rel} is not a workflow (a YAML mapping with `on` and `jobs`)")
        on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
        jobs_raw = doc.get("jobs") if isinstance(doc.get("jobs"), dict) else {}
        jobs = {}
        for jid, j in jobs_raw.items():
            if not isinstance(j, dict):
                continue
            steps_raw = j.get("steps") if isinstance(j.get("steps"), list) else []
            steps = [Step(i, s) for i, s in enumerate(steps_raw) if isinstance(s, dict)]
            jobs[str(jid)] = Job(str(jid), j, steps)
        out.append(Workflow(rel, doc, _events(on), jobs))
    return out


# ------------------------------------------------------------------------------------------
# What a step does
# ------------------------------------------------------------------------------------------

LINT = re.compile(r"\bruff\b[^\n;&|]*\bcheck\b|\bruff\s+\.|\bflake8\b", re.I)
TEST = re.compile(r"\bpytest\b", re.I)
TRAIN = re.compile(r"\btrain\.py\b|-m\s+credit_risk\.train\b")
EVALUATE = re.compile(r"\bevaluate\.py\b|-m\s+credit_risk\.evaluate\b")
BUILD = re.compile(
    r"\b(?:docker|podman)\s+(?:buildx\s+|image\s+)?build\b|\bbuildah\s+(?:bud|build)\b|\bdocker[- ]compose\s+build\b",
    re.I,
)


def _action(uses: str) -> str:
    return uses.split("@", 1)[0].strip().lower()


def kinds(step: Step) -> set[str]:
    out = set()
    run = step.run
    action = _action(step.uses)
    if LINT.search(run) or action in ("astral-sh/ruff-action", "chartboost/ruff-action"):
        out.add("lint")
    if TEST.search(run):
        out.add("test")
    if TRAIN.search(run):
        out.add("train")
    if EVALUATE.search(run):
        out.add("evaluate")
    if BUILD.search(run) or action == "docker/build-push-action":
        out.add("build")
    if action == "actions/setup-python":
        out.add("setup-python")
    return out


# ------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------

FEATURE_BRANCH = "feature/better-features"


@dataclass
class Scenario:
    key: str
    label: str
    event: str
    ref: str
    head_branch: str  # the branch whose code runs (PR head, pushed branch)
    base_ref: str = ""

    def github(self, sha: str, workspace: str) -> dict:
        ref_name = (
            self.ref.split("/", 2)[2] if self.ref.startswith("refs/heads/") else self.ref.replace("refs/pull/", "")
        )
        event: dict[str, Any] = {
            "ref": self.ref,
            "repository": {"default_branch": "main", "full_name": "lendwise/credit-risk"},
        }
        if self.event.startswith("pull_request"):
            event["pull_request"] = {
                "number": 7,
                "head": {"ref": self.head_branch, "sha": sha},
                "base": {"ref": self.base_ref, "sha": "0" * 40},
                "draft": False,
                "merged": False,
            }
            event["number"] = 7
            event["action"] = "synchronize"
        if self.event == "push":
            event["after"] = sha
            event["head_commit"] = {"id": sha, "message": "candidate change"}
        return {
            "event_name": self.event,
            "ref": self.ref,
            "ref_name": ref_name,
            "ref_type": "branch",
            "head_ref": self.head_branch if self.event.startswith("pull_request") else "",
            "base_ref": self.base_ref,
            "sha": sha,
            "repository": "lendwise/credit-risk",
            "repository_owner": "lendwise",
            "actor": "candidate",
            "triggering_actor": "candidate",
            "run_id": "4242",
            "run_number": "42",
            "run_attempt": "1",
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
            "workspace": workspace,
            "event": event,
            "token": "",
            "job": "",
            "action": "",
        }


PR = Scenario("pr", "a pull request into main", "pull_request", "refs/pull/7/merge", FEATURE_BRANCH, "main")
PUSH_MAIN = Scenario("push-main", "a push to main", "push", "refs/heads/main", "main")
PUSH_FEATURE = Scenario(
    "push-feature", f"a push to the branch {FEATURE_BRANCH}", "push", f"refs/heads/{FEATURE_BRANCH}", FEATURE_BRANCH
)


def _glob_match(name: str, pattern: str) -> bool:
    """GitHub filter patterns: * within a path segment, ** across, ? + [] as in fnmatch."""
    rx = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            rx += ".*"
            i += 2
            continue
        if c == "*":
            rx += "[^/]*"
        elif c == "?":
            rx += "."
        elif c == "+":
            rx += "+"
        elif c == "[":
            j = pattern.find("]", i)
            if j == -1:
                rx += re.escape(c)
            else:
                rx += pattern[i : j + 1]
                i = j
        else:
            rx += re.escape(c)
        i += 1
    try:
        return re.fullmatch(rx, name) is not None
    except re.error:
        return fnmatch.fnmatchcase(name, pattern)


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v]
    return [str(v)]


def _filter(name: str, include: Any, exclude: Any) -> bool:
    if include is not None:
        ok = False
        for pat in _as_list(include):
            if pat.startswith("!"):
                if _glob_match(name, pat[1:]):
                    ok = False
            elif _glob_match(name, pat):
                ok = True
        return ok
    if exclude is not None:
        return not any(_glob_match(name, p) for p in _as_list(exclude))
    return True


def triggered(wf: Workflow, sc: Scenario) -> bool:
    if sc.event == "push":
        if "push" not in wf.on:
            return False
        cfg = wf.on["push"] if isinstance(wf.on["push"], dict) else {}
        if "branches" not in cfg and "branches-ignore" not in cfg and ("tags" in cfg or "tags-ignore" in cfg):
            return False
        return _filter(sc.head_branch, cfg.get("branches"), cfg.get("branches-ignore"))
    if sc.event.startswith("pull_request"):
        for ev in ("pull_request", "pull_request_target"):
            if ev not in wf.on:
                continue
            cfg = wf.on[ev] if isinstance(wf.on[ev], dict) else {}
            types = cfg.get("types")
            if types is not None and not set(_as_list(types)) & {"opened", "synchronize", "reopened"}:
                continue
            if _filter(sc.base_ref, cfg.get("branches"), cfg.get("branches-ignore")):
                return True
        return False
    return False


def listeners(workflows: list[Workflow], upstream: Workflow, head_branch: str, activity: str) -> list[Workflow]:
    """Workflows that a workflow_run event of `upstream` (activity requested/completed) starts."""
    out = []
    for wf in workflows:
        if wf is upstream or "workflow_run" not in wf.on:
            continue
        cfg = wf.on["workflow_run"] if isinstance(wf.on["workflow_run"], dict) else {}
        if upstream.name not in _as_list(cfg.get("workflows")):
            continue
        types = _as_list(cfg.get("types")) or ["completed", "requested", "in_progress"]
        if activity not in types:
            continue
        if not _filter(head_branch, cfg.get("branches"), cfg.get("branches-ignore")):
            continue
        out.append(wf)
    return out


def _wr_payload(wf: Workflow, head_branch: str, event: str, conclusion: str | None) -> dict:
    return {
        "workflow_run": {
            "conclusion": conclusion,
            "head_branch": head_branch,
            "event": event,
            "name": wf.name,
            "head_sha": "f" * 40,
            "status": "completed" if conclusion else "requested",
            "id": 4242,
        }
    }


def workflow_run_scenario(upstream_sc: Scenario) -> Scenario:
    # A workflow_run workflow runs on the default branch, whatever triggered the upstream.
    return Scenario("workflow_run", "workflow_run", "workflow_run", "refs/heads/main", "main")


# ------------------------------------------------------------------------------------------
# Contexts
# ------------------------------------------------------------------------------------------


def first_matrix(job: Job) -> dict:
    strategy = job.raw.get("strategy")
    if not isinstance(strategy, dict):
        return {}
    m = strategy.get("matrix")
    if not isinstance(m, dict):
        return {}
    combo: dict[str, Any] = {}
    for k, v in m.items():
        if k in ("include", "exclude"):
            continue
        if isinstance(v, list) and v:
            combo[str(k)] = v[0]
    includes = m.get("include") if isinstance(m.get("include"), list) else []
    if not combo and includes and isinstance(includes[0], dict):
        return {str(k): v for k, v in includes[0].items()}
    for inc in includes:
        if isinstance(inc, dict) and all(combo.get(k) == v for k, v in inc.items() if k in combo):
            for k, v in inc.items():
                combo.setdefault(str(k), v)
    return combo


def _env_of(raw: Any, ev: Evaluator) -> dict[str, str]:
    if not isinstance(raw, dict):
        if isinstance(raw, str):  # env: ${{ fromJSON(...) }}
            try:
                v = ev.interpolate(raw)
                return {str(k): to_string(x) for k, x in json.loads(v).items()} if v else {}
            except (ExprError, ValueError, AttributeError):
                return {}
        return {}
    out = {}
    for k, v in raw.items():
        try:
            out[str(k)] = to_string(ev.interpolate(v)) if isinstance(v, str) else to_string(v)
        except ExprError:
            out[str(k)] = ""
    return out


def base_contexts(sc: Scenario, workspace: str, payload_extra: dict | None = None) -> dict:
    gh = sc.github("f" * 40, workspace)
    if payload_extra:
        gh["event"].update(payload_extra)
    return {
        "github": gh,
        "env": {},
        "vars": {},
        "secrets": {"GITHUB_TOKEN": "", "github_token": ""},
        "inputs": {},
        "runner": {
            "os": "Linux",
            "arch": "X64",
            "name": "GitHub Actions 1",
            "temp": "/tmp",
            "tool_cache": "/opt/hostedtoolcache",
            "environment": "github-hosted",
            "debug": "",
        },
        "matrix": {},
        "strategy": {"fail-fast": True, "job-index": 0, "job-total": 1, "max-parallel": 1},
        "needs": {},
        "steps": {},
        "job": {"status": "success"},
    }


def job_order(wf: Workflow) -> list[Job] | None:
    """Jobs in an order where every job comes after its needs; None on a cycle."""
    done: list[str] = []
    pending = list(wf.jobs)
    while pending:
        progressed = False
        for jid in list(pending):
            if all(n in done or n not in wf.jobs for n in wf.jobs[jid].needs):
                done.append(jid)
                pending.remove(jid)
                progressed = True
        if not progressed:
            return None
    return [wf.jobs[j] for j in done]


def upstream_jobs(wf: Workflow, job: Job) -> set[str]:
    seen: set[str] = set()
    stack = list(job.needs)
    while stack:
        j = stack.pop()
        if j in seen or j not in wf.jobs:
            continue
        seen.add(j)
        stack.extend(wf.jobs[j].needs)
    return seen


# ------------------------------------------------------------------------------------------
# Static plan: which steps would run for an event, if every step succeeded
# ------------------------------------------------------------------------------------------


@dataclass
class Reached:
    wf: Workflow
    job: Job
    step: Step
    via: str  # how the workflow was started


# Conditions the static plan could not evaluate (GitHub would reject the workflow).
EXPR_ERRORS: set[str] = set()


def plan(workflows: list[Workflow], sc: Scenario, conclusions=("success", None)) -> list[Reached]:
    out: list[Reached] = []

    def run_wf(wf: Workflow, wsc: Scenario, extra: dict | None, via: str, depth: int) -> None:
        ctx = base_contexts(wsc, "/home/runner/work/credit-risk/credit-risk", extra)
        ev0 = Evaluator(ctx)
        ctx["env"] = _env_of(wf.raw.get("env"), ev0)
        results: dict[str, str] = {}
        order = job_order(wf) or []
        for job in order:
            if job.raw.get("uses"):
                results[job.id] = "success"
                continue
            needs_ok = all(results.get(n) == "success" for n in job.needs if n in wf.jobs)
            jctx = dict(ctx)
            jctx["needs"] = {n: {"result": results.get(n, "skipped"), "outputs": UNKNOWN} for n in job.needs}
            jctx["steps"] = UNKNOWN  # outputs and outcomes are not known before running
            jctx["vars"] = UNKNOWN
            jctx["secrets"] = UNKNOWN
            jctx["matrix"] = first_matrix(job)
            ev = Evaluator(jctx, {"success": needs_ok, "failure": False, "cancelled": False})
            try:
                runs = ev.condition(job.raw.get("if"))
            except ExprError as e:
                EXPR_ERRORS.add(f"job {job.id} in {wf.path}: `if: {job.raw.get('if')}`: {e}")
                runs = False
            if not runs:
                results[job.id] = "skipped"
                continue
            results[job.id] = "success"
            jctx["env"] = {**ctx["env"], **_env_of(job.raw.get("env"), ev)}
            for step in job.steps:
                sev = Evaluator(jctx, {"success": True, "failure": False, "cancelled": False})
                try:
                    if not sev.condition(step.raw.get("if")):
                        continue
                except ExprError as e:
                    EXPR_ERRORS.add(f"step '{step.name}' in {wf.path}: `if: {step.raw.get('if')}`: {e}")
                    continue
                out.append(Reached(wf, job, step, via))

    def start(
        wf: Workflow, wsc: Scenario, extra: dict | None, via: str, depth: int, head_branch: str, event: str
    ) -> None:
        if depth > 3:
            return
        for down in listeners(workflows, wf, head_branch, "requested"):
            start(
                down,
                workflow_run_scenario(wsc),
                _wr_payload(wf, head_branch, event, None),
                f"workflow_run (requested) of {wf.name}",
                depth + 1,
                "main",
                "workflow_run",
            )
        run_wf(wf, wsc, extra, via, depth)
        for conclusion in conclusions:
            if conclusion is None:
                continue
            for down in listeners(workflows, wf, head_branch, "completed"):
                start(
                    down,
                    workflow_run_scenario(wsc),
                    _wr_payload(wf, head_branch, event, conclusion),
                    f"workflow_run (completed) of {wf.name}",
                    depth + 1,
                    "main",
                    "workflow_run",
                )

    for wf in workflows:
        if triggered(wf, sc):
            start(wf, sc, None, sc.event, 0, sc.head_branch, sc.event)
    return out


# ------------------------------------------------------------------------------------------
# Running for real
# ------------------------------------------------------------------------------------------


@dataclass
class StepRecord:
    wf: str
    job: str
    index: int
    name: str
    kinds: set[str]
    outcome: str  # success | failure | skipped
    conclusion: str
    soft: bool = False  # a lint/test failure that the grader does not let stop the run
    note: str = ""
    tail: str = ""
    seconds: float = 0.0
    seq: int = 0
    metrics: dict | None = None

    def key(self) -> tuple:
        return (self.wf, self.job, self.index)


@dataclass
class RunLog:
    steps: list[StepRecord] = field(default_factory=list)
    builds: list[dict] = field(default_factory=list)  # {step: StepRecord key, ok, why}
    workflows: list[tuple[str, str]] = field(default_factory=list)  # (name, conclusion)
    notes: list[str] = field(default_factory=list)

    def executed(self) -> list[StepRecord]:
        return [s for s in self.steps if s.outcome != "skipped"]


# Stand-ins for tools the emulation has no use for or cannot have. The grader's /tmp is
# mounted noexec, so they are shell functions (exported to every bash, and written at the
# top of `sh` steps), not files on PATH; `python -m pip` finds the stub module in shim-py.
# The steps cannot see /grader, so the docker stand-in runs a copy of dockerctx.py made
# under the runner's root (read-only to the steps).
SHIM_FUNCTIONS = {
    "docker": """() {
  case "$1" in
    build) shift; __PY__ __GRADER__/dockerctx.py build "$@"; return;;
    buildx|image) if [ "$2" = build ]; then shift 2; __PY__ __GRADER__/dockerctx.py build "$@"; return; fi;;
    compose) if [ "$2" = build ]; then echo '{"event": "build", "ok": true, "why": [], "how": "docker compose build"}' >> "$SIM_LOG"; fi;;
  esac
  echo "(grader) docker $*: skipped - there is no Docker engine in the emulation"
}""",
    "uv": """() {
  if [ "$1" = run ]; then
    shift
    while [ $# -gt 0 ]; do case "$1" in --with|--python|-p|--group|--extra|--env-file) shift 2;; --) shift; break;; -*) shift;; *) break;; esac; done
    "$@"; return
  fi
  echo "(grader) uv $*: skipped - no network here; requirements are preinstalled"
}""",
    "sudo": """() {
  while [ $# -gt 0 ]; do case "$1" in -E|-H|-n|-S|--preserve-env*) shift;; -u) shift 2;; *) break;; esac; done
  "$@"
}""",
}
for _name in ("pip", "pip3", "pip3.11", "apt-get", "apt", "poetry", "pipx", "conda"):
    SHIM_FUNCTIONS[_name] = (
        """() {
  echo "(grader) %s $*: skipped - no network here; requirements are preinstalled"
}"""
        % _name
    )
SHIM_FUNCTIONS["podman"] = SHIM_FUNCTIONS["docker"]

PY_PIP_MAIN = "print('(grader) python -m pip: skipped - no network here; requirements are preinstalled')\n"


def make_shims(root: str) -> tuple[dict[str, str], str, str]:
    """(environment with the exported bash functions, the same as sh source, PYTHONPATH dir)."""
    py_dir = os.path.join(root, "shim-py")
    os.makedirs(os.path.join(py_dir, "pip"), exist_ok=True)
    with open(os.path.join(py_dir, "pip", "__init__.py"), "w") as f:
        f.write("")
    with open(os.path.join(py_dir, "pip", "__main__.py"), "w") as f:
        f.write(PY_PIP_MAIN)
    tools = shim_tools(root)
    env = {}
    sh_lines = []
    for name, body in SHIM_FUNCTIONS.items():
        body = body.replace("__PY__", PYTHON).replace("__GRADER__", tools)
        env[f"BASH_FUNC_{name}%%"] = body
        if re.fullmatch(r"[a-z][a-z0-9_]*", name):  # what dash accepts as a function name
            sh_lines.append(f"{name}{body.replace('; return', '; return $?')}")
    return env, "\n".join(sh_lines) + "\n", py_dir


def shim_tools(root: str) -> str:
    """Copies of dockerctx.py and jobfiles.py outside /grader (which the confined steps and
    helpers cannot see), in a folder they cannot write."""
    tools = os.path.join(root, "shim-tools")
    os.makedirs(tools, exist_ok=True)
    for name in ("dockerctx.py", "jobfiles.py"):
        shutil.copyfile(os.path.join(GRADER_DIR, name), os.path.join(tools, name))
    return tools


# What upload-artifact v4 refuses in a name (and what keeps the store's folder inside it).
ARTIFACT_NAME_FORBIDDEN = {
    '"': 'Double quote "',
    ":": "Colon :",
    "<": "Less than <",
    ">": "Greater than >",
    "|": "Vertical bar |",
    "*": "Asterisk *",
    "?": "Question mark ?",
    "\r": "Carriage return \\r",
    "\n": "Line feed \\n",
    "\\": "Backslash \\",
    "/": "Forward slash /",
    "\0": "Null character",
}


def job_files(tools: str, op: str, request: dict, rw: list[str] = (), timeout: float = 60) -> dict:
    """jobfiles.py OP, confined: see its docstring."""
    return run_helper(os.path.join(tools, "jobfiles.py"), op, request, rw=rw, timeout=timeout)


def _fresh_file(path: str, text: str = "") -> None:
    """Creates `path` anew: whatever a step left there (a link, say) is removed, not written through."""
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _read_own(path: str) -> str:
    """A file the grader made in a folder the step can write: read only if it is still a
    plain file (a link the step put in its place is not followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return ""
        return f.read(4 * 1024 * 1024).decode("utf-8", "replace")


def _under(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == os.path.realpath(r) or real.startswith(os.path.realpath(r) + os.sep) for r in roots)


def bool_input(ev: Evaluator, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    text = to_string(ev.interpolate(v)) if isinstance(v, str) else to_string(v)
    return text.strip().lower() == "true"


def _parse_kv_file(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = _read_own(path).splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^([^=<\s]+)<<(.+)$", line)
        if m:
            delim = m.group(2)
            buf = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                buf.append(lines[i])
                i += 1
            out[m.group(1)] = "\n".join(buf)
        elif "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v
        i += 1
    return out


def _run_group(cmd: list[str], cwd: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Runs a step in its own process group and kills whatever it leaves behind."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out = b""
        raise subprocess.TimeoutExpired(cmd, timeout, output=out) from None
    finally:
        _kill_group(proc.pid)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(text: str, n: int = 12) -> str:
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-n:])[-1500:]


class Runner:
    """Runs the workflows an event starts, for real, in `root`, from the repository copy `source`."""

    def __init__(
        self,
        workflows: list[Workflow],
        root: str,
        source: str,
        git_files: set[str],
        budget_s: float = 80.0,
        step_timeout_s: float = 60.0,
        reuse: RunLog | None = None,
    ):
        """`reuse`: an earlier run of the same code; its lint and test steps that do not depend
        on training are not run again (they cannot differ), their results are copied."""
        self.reuse = {s.key(): s for s in reuse.steps} if reuse else {}
        self.workflows = workflows
        self.root = root
        self.source = source
        self.git_files = git_files
        self.deadline = time.monotonic() + budget_s
        self.step_timeout = step_timeout_s
        self.log = RunLog()
        # name -> (workflow run number, uploading job, folder); a run sees only its own
        # artifacts (others need run-id), and a job only those of jobs it needs.
        self.artifacts: dict[tuple[int, str], tuple[str, str]] = {}
        self.run_no = 0
        self.current: tuple[int, Workflow | None, Job | None] = (0, None, None)
        self.seq = 0
        self.shim_env, self.sh_preamble, self.py_dir = make_shims(root)
        self.tools = os.path.join(root, "shim-tools")
        self.home = os.path.join(root, "home")
        os.makedirs(self.home, exist_ok=True)
        # The docker stand-in appends to it from the confined steps: the file (not its
        # folder) is writable to them, so it must exist first.
        self.sim_log = os.path.join(root, "sim-events.jsonl")
        _fresh_file(self.sim_log)

    # -- scenario ------------------------------------------------------------------------

    def run(self, sc: Scenario) -> RunLog:
        for wf in self.workflows:
            if triggered(wf, sc):
                self._start(wf, sc, None, sc.head_branch, sc.event, 0)
        return self.log

    def _start(self, wf: Workflow, sc: Scenario, extra: dict | None, head_branch: str, event: str, depth: int) -> None:
        if depth > 3:
            return
        for down in listeners(self.workflows, wf, head_branch, "requested"):
            self._start(
                down,
                workflow_run_scenario(sc),
                _wr_payload(wf, head_branch, event, None),
                "main",
                "workflow_run",
                depth + 1,
            )
        conclusion = self._run_workflow(wf, sc, extra)
        for down in listeners(self.workflows, wf, head_branch, "completed"):
            self._start(
                down,
                workflow_run_scenario(sc),
                _wr_payload(wf, head_branch, event, conclusion),
                "main",
                "workflow_run",
                depth + 1,
            )

    def _run_workflow(self, wf: Workflow, sc: Scenario, extra: dict | None) -> str:
        self.run_no += 1
        run_no = self.run_no
        order = job_order(wf)
        if order is None:
            self.log.notes.append(f"{wf.path}: the jobs' needs form a cycle")
            self.log.workflows.append((wf.name, "failure"))
            return "failure"
        results: dict[str, str] = {}
        outputs: dict[str, dict] = {}
        for job in order:
            self.current = (run_no, wf, job)
            results[job.id], outputs[job.id] = self._run_job(wf, job, sc, extra, results, outputs)
        conclusion = "failure" if any(r == "failure" for r in results.values()) else "success"
        self.log.workflows.append((wf.name, conclusion))
        return conclusion

    # -- jobs ----------------------------------------------------------------------------

    def _run_job(self, wf: Workflow, job: Job, sc: Scenario, extra, results, outputs) -> tuple[str, dict]:
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{os.path.basename(wf.path)}-{job.id}-{self.seq}")
        jroot = os.path.join(self.root, slug)
        ws = os.path.join(jroot, "ws")
        tmp = os.path.join(jroot, "tmp")
        os.makedirs(ws)
        os.makedirs(tmp)
        ctx = base_contexts(sc, ws, extra)
        ctx["runner"]["temp"] = tmp
        ev0 = Evaluator(ctx)
        wf_env = _env_of(wf.raw.get("env"), ev0)
        ctx["env"] = dict(wf_env)
        ctx["needs"] = {n: {"result": results.get(n, "skipped"), "outputs": outputs.get(n, {})} for n in job.needs}
        ctx["matrix"] = first_matrix(job)
        ctx["github"]["job"] = job.id
        needs_ok = all(results.get(n) == "success" for n in job.needs if n in wf.jobs)
        needs_failed = any(results.get(n) == "failure" for n in job.needs)
        jev = Evaluator(ctx, {"success": needs_ok, "failure": needs_failed, "cancelled": False})
        try:
            runs = jev.condition(job.raw.get("if"))
        except ExprError as e:
            self.log.notes.append(f"job {job.id}: cannot evaluate `if`: {e}")
            runs = False
        if job.raw.get("uses"):
            self.log.notes.append(f"job {job.id} calls the reusable workflow {job.raw['uses']}: not emulated")
            return ("success" if runs else "skipped"), {}
        if not runs:
            for step in job.steps:
                self._record(wf, job, step, "skipped", "skipped", note="job skipped")
            return "skipped", {}
        ctx["env"] = {**wf_env, **_env_of(job.raw.get("env"), jev)}
        defaults = {}
        for level in (wf.raw.get("defaults"), job.raw.get("defaults")):
            if isinstance(level, dict) and isinstance(level.get("run"), dict):
                defaults.update(level["run"])
        env_file_vars: dict[str, str] = {}
        extra_path: list[str] = []
        failed = False
        steps_ctx: dict[str, dict] = {}
        ctx["steps"] = steps_ctx
        downstream_of_train = bool(self._train_upstream(wf, job))
        for step in job.steps:
            ctx["job"] = {"status": "failure" if failed else "success"}
            ctx["env"] = {**wf_env, **_env_of(job.raw.get("env"), jev), **env_file_vars}
            sev = Evaluator(ctx, {"success": not failed, "failure": failed, "cancelled": False})
            display = step.name
            if "${{" in display:
                try:
                    display = to_string(sev.interpolate(display))
                except ExprError:
                    pass
            try:
                should = sev.condition(step.raw.get("if"))
            except ExprError as e:
                self._record(wf, job, step, "skipped", "skipped", note=f"cannot evaluate `if`: {e}")
                continue
            if not should:
                self._record(wf, job, step, "skipped", "skipped", name=display)
                if step.id:
                    steps_ctx[step.id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
                continue
            if time.monotonic() > self.deadline:
                self._record(
                    wf, job, step, "failure", "failure", note="the grader's time budget ran out before this step"
                )
                failed = True
                continue
            step_env = {**ctx["env"], **_env_of(step.raw.get("env"), sev)}
            ctx_env_for_with = dict(ctx)
            ctx_env_for_with["env"] = step_env
            wev = Evaluator(ctx_env_for_with, {"success": not failed, "failure": failed, "cancelled": False})
            files = {
                k: os.path.join(tmp, f"{k}_{step.index}")
                for k in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE")
            }
            for p in files.values():
                _fresh_file(p)
            started = time.monotonic()
            before = self._sim_events()
            k = kinds(step)
            independent = (
                bool(k & {"lint", "test"})
                and not k & {"train", "evaluate", "build"}
                and not downstream_of_train
                and not self._after_train_in_job(job, step)
            )
            earlier = self.reuse.get((wf.path, job.id, step.index)) if independent else None
            if earlier is not None and earlier.outcome != "skipped":
                rec = self._record(
                    wf,
                    job,
                    step,
                    earlier.outcome,
                    earlier.conclusion,
                    note=earlier.note,
                    tail=earlier.tail,
                    soft=earlier.soft,
                    name=display,
                )
                if step.id:
                    steps_ctx[step.id] = {"outputs": {}, "outcome": earlier.outcome, "conclusion": earlier.conclusion}
                failed = failed or earlier.conclusion == "failure"
                continue
            try:
                if step.uses:
                    outcome, note, tail, step_outputs = self._uses(step, wev, ws, sc)
                else:
                    outcome, note, tail = self._run(step, wev, ws, tmp, defaults, step_env, files, sc, extra_path, job)
                    step_outputs = _parse_kv_file(files["GITHUB_OUTPUT"])
            except ExprError as e:
                outcome, note, tail, step_outputs = "failure", f"cannot evaluate an expression: {e}", "", {}
            for k, v in _parse_kv_file(files["GITHUB_ENV"]).items():
                env_file_vars[k] = v
            added = [ln.strip() for ln in _read_own(files["GITHUB_PATH"]).splitlines() if ln.strip()]
            extra_path[:0] = added[::-1]
            try:
                coe = bool_input(wev, step.raw.get("continue-on-error", False))
            except ExprError:
                coe = False
            soft = outcome == "failure" and not coe and independent
            conclusion = "success" if (outcome == "success" or coe or soft) else "failure"
            rec = self._record(
                wf,
                job,
                step,
                outcome,
                conclusion,
                note=note,
                tail=tail,
                seconds=time.monotonic() - started,
                soft=soft,
                name=display,
            )
            if "evaluate" in k or "train" in k:
                rec.metrics = job_files(self.tools, "metrics", {"ws": ws}, timeout=20).get("metrics")
            for e in self._sim_events()[len(before) :]:
                if e.get("event") == "build":
                    self.log.builds.append(
                        {"step": rec.key(), "name": rec.name, "job": job.id, "ok": e.get("ok"), "why": e.get("why", [])}
                    )
            if step.id:
                steps_ctx[step.id] = {"outputs": step_outputs, "outcome": outcome, "conclusion": conclusion}
            if conclusion == "failure":
                failed = True
        result = "failure" if failed else "success"
        job_outputs = {}
        if isinstance(job.raw.get("outputs"), dict):
            oev = Evaluator(ctx)
            for k, v in job.raw["outputs"].items():
                try:
                    job_outputs[str(k)] = to_string(oev.interpolate(v)) if isinstance(v, str) else to_string(v)
                except ExprError:
                    job_outputs[str(k)] = ""
        return result, job_outputs

    def _train_upstream(self, wf: Workflow, job: Job) -> set[str]:
        return {j for j in upstream_jobs(wf, job) if any("train" in kinds(s) for s in wf.jobs[j].steps)}

    @staticmethod
    def _after_train_in_job(job: Job, step: Step) -> bool:
        return any("train" in kinds(s) for s in job.steps[: step.index])

    def _sim_events(self) -> list[dict]:
        if not os.path.exists(self.sim_log):
            return []
        out = []
        with open(self.sim_log) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def _record(
        self, wf, job, step, outcome, conclusion, note="", tail="", seconds=0.0, soft=False, name=None
    ) -> StepRecord:
        self.seq += 1
        rec = StepRecord(
            wf.path,
            job.id,
            step.index,
            name or step.name,
            kinds(step),
            outcome,
            conclusion,
            soft,
            note,
            tail,
            seconds,
            self.seq,
        )
        self.log.steps.append(rec)
        return rec

    # -- run: steps ----------------------------------------------------------------------

    def _run(
        self,
        step: Step,
        ev: Evaluator,
        ws: str,
        tmp: str,
        defaults: dict,
        env: dict,
        files: dict,
        sc: Scenario,
        extra_path: list[str],
        job: Job,
    ):
        script = ev.interpolate(step.run)
        shell = step.raw.get("shell") or defaults.get("shell")
        wd = step.raw.get("working-directory") or defaults.get("working-directory") or ""
        wd = ev.interpolate(str(wd)) if wd else ""
        cwd = wd if os.path.isabs(wd) else os.path.join(ws, wd)
        if not os.path.isdir(cwd):
            return "failure", f"working-directory {wd} does not exist", ""
        if shell is None:
            cmd_tpl, ext = ["bash", "-e", "{0}"], ".sh"
        else:
            shell = str(shell).strip()
            if shell == "bash":
                cmd_tpl, ext = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], ".sh"
            elif shell == "sh":
                cmd_tpl, ext = ["sh", "-e", "{0}"], ".sh"
            elif shell == "python":
                cmd_tpl, ext = [PYTHON, "{0}"], ".py"
            elif shell in ("pwsh", "powershell", "cmd"):
                return "failure", f"shell {shell} is not available on the emulated ubuntu runner", ""
            else:
                cmd_tpl = shell.split()
                ext = ".py" if "python" in cmd_tpl[0] else ".sh"
                if "{0}" not in cmd_tpl:
                    cmd_tpl.append("{0}")
        path = os.path.join(tmp, f"step_{step.index}{ext}")
        _fresh_file(path, (self.sh_preamble if cmd_tpl[0] in ("sh", "dash") else "") + script)
        cmd = [path if c == "{0}" else c for c in cmd_tpl]
        proc_env = {
            "PATH": ":".join(extra_path + [os.path.dirname(PYTHON), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": ws,
            "GITHUB_EVENT_NAME": ev.contexts["github"]["event_name"],
            "GITHUB_REF": ev.contexts["github"]["ref"],
            "GITHUB_REF_NAME": ev.contexts["github"]["ref_name"],
            "GITHUB_REF_TYPE": "branch",
            "GITHUB_HEAD_REF": ev.contexts["github"]["head_ref"],
            "GITHUB_BASE_REF": ev.contexts["github"]["base_ref"],
            "GITHUB_SHA": ev.contexts["github"]["sha"],
            "GITHUB_REPOSITORY": "lendwise/credit-risk",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_RUN_NUMBER": "42",
            "GITHUB_JOB": job.id,
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": tmp,
            # /tmp is not writable to the confined step: temporary files go to runner.temp.
            "TMPDIR": tmp,
            "PYTHONPATH": self.py_dir,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PIP_NO_INDEX": "1",
            "SIM_LOG": self.sim_log,
            "MPLBACKEND": "Agg",
            **files,
            **self.shim_env,
        }
        for k, v in env.items():
            if k == "PATH":
                continue
            proc_env[k] = v
        if "/" not in cmd[0] and shutil.which(cmd[0], path=proc_env["PATH"]) is None:
            # What starting it unconfined said (the wrapper would say it in its own words).
            return "failure", f"cannot start {cmd[0]}: [Errno 2] No such file or directory: '{cmd[0]}'", ""
        remaining = max(1.0, min(self.step_timeout, self.deadline - time.monotonic()))
        # The candidate's code: it may write its job's workspace and runner.temp, the
        # runner's HOME and the event log of the docker stand-in, nothing else.
        program = cmd[0]
        cmd = confined(cmd, rw=[ws, tmp, self.home, self.sim_log])
        try:
            p = _run_group(cmd, cwd, proc_env, remaining)
        except subprocess.TimeoutExpired as e:
            out = (e.output or b"").decode("utf-8", "replace")
            return "failure", f"did not finish within {int(remaining)} s", _tail(out)
        except OSError as e:
            raise GraderProblem(f"cannot start {cmd[0]}: {e}") from None
        out = p.stdout.decode("utf-8", "replace")
        # The wrapper itself was tried before any step (confine.ensure_confinement), so the
        # only refusal left to it is not finding or not being allowed to run the program.
        if p.returncode == 126 and out.startswith("untrusted.py: cannot run "):
            why = out.strip().splitlines()[0].rsplit(": ", 1)[-1]
            errno = {"No such file or directory": 2, "Permission denied": 13}.get(why)
            return "failure", f"cannot start {program}: " + (f"[Errno {errno}] {why}: '{program}'" if errno else why), ""
        if p.returncode == 126 and "Permission denied" in out:
            return (
                "failure",
                "exit code 126 (the grader cannot execute files directly: call scripts through their interpreter, e.g. `python scripts/x.py`, `bash scripts/x.sh`)",
                _tail(out),
            )
        if p.returncode != 0:
            return "failure", f"exit code {p.returncode}", _tail(out)
        return "success", "", _tail(out, 6)

    # -- uses: steps ---------------------------------------------------------------------

    def _uses(self, step: Step, ev: Evaluator, ws: str, sc: Scenario):
        action = _action(step.uses)
        with_ = step.raw.get("with") if isinstance(step.raw.get("with"), dict) else {}
        with_ = {str(k): to_string(ev.interpolate(v)) if isinstance(v, str) else to_string(v) for k, v in with_.items()}
        if action == "actions/checkout":
            if with_.get("repository") and with_["repository"].lower() != "lendwise/credit-risk":
                return "success", f"checkout of {with_['repository']}: not emulated", "", {}
            dest = os.path.normpath(os.path.join(ws, with_["path"])) if with_.get("path") else ws
            if not _under(dest, [ws]):
                return "failure", f"Repository path '{dest}' is not under '{ws}'", "", {}
            done = job_files(self.tools, "trees", {"pairs": [[self.source, dest]]}, rw=[ws])
            if done.get("error"):
                return "failure", f"checkout failed: {done['error']}", "", {}
            return "success", "checked out the repository", "", {}
        if action == "actions/upload-artifact":
            return self._upload(with_, ws)
        if action == "actions/download-artifact":
            return self._download(with_, ws)
        if action == "docker/build-push-action":
            return self._build_push(with_, ws)
        if action == "docker/metadata-action":
            tags = "ghcr.io/lendwise/credit-risk:sha-fffffff"
            return "success", "emulated", "", {"tags": tags, "labels": "", "version": "sha-fffffff", "json": "{}"}
        return "success", f"{step.uses}: skipped (not emulated)", "", {}

    def _upload(self, with_: dict, ws: str):
        name = with_.get("name") or "artifact"
        run_no, _, job = self.current
        if (run_no, name) in self.artifacts:
            return "failure", f"an artifact named {name} was already uploaded in this run (v4 names are unique)", "", {}
        patterns = [ln.strip() for ln in (with_.get("path") or "").splitlines() if ln.strip()]
        if not patterns:
            return "failure", "upload-artifact needs `path`", "", {}
        bad = sorted({c for c in name if c in ARTIFACT_NAME_FORBIDDEN})
        if bad or name in (".", ".."):
            shown = " ".join(ARTIFACT_NAME_FORBIDDEN[c] for c in bad) or name
            return "failure", f"The artifact name is not valid: {name}. Contains the following character: {shown}", "", {}
        store = os.path.join(self.root, "artifacts", str(run_no), name)
        os.makedirs(store)
        # The matching and copying read what the steps wrote: done confined (jobfiles.py).
        done = job_files(self.tools, "upload", {"patterns": patterns, "ws": ws, "store": store}, rw=[store])
        if done.get("error"):
            shutil.rmtree(store, ignore_errors=True)
            return "failure", f"cannot upload {name}: {done['error']}", "", {}
        listed = done.get("files") or []
        if not listed:
            shutil.rmtree(store, ignore_errors=True)
            mode = with_.get("if-no-files-found", "warn")
            if mode == "error":
                return "failure", f"no files were found with the provided path: {', '.join(patterns)}", "", {}
            return "success", f"warning: no files found at {', '.join(patterns)}; no artifact uploaded", "", {}
        self.artifacts[(run_no, name)] = (job.id if job else "", store)
        return "success", f"uploaded {name}: {', '.join(listed[:5])}", "", {"artifact-id": "1"}

    def _download(self, with_: dict, ws: str):
        dest = with_.get("path") or ws
        dest = dest if os.path.isabs(dest) else os.path.join(ws, dest)
        run_no, wf, job = self.current
        visible: dict[str, str] = {}
        hidden: dict[str, str] = {}
        other_run = bool(with_.get("run-id"))
        for (rn, n), (uploader, store) in self.artifacts.items():
            if other_run:
                if rn != run_no:
                    visible[n] = store
            elif rn == run_no:
                if wf is not None and job is not None and (uploader == job.id or uploader in upstream_jobs(wf, job)):
                    visible[n] = store
                else:
                    hidden[n] = uploader
        name = with_.get("name")
        if name:
            if name not in visible:
                why = f"Unable to download artifact(s): Artifact not found for name: {name}"
                if name in hidden:
                    why += f" (job {hidden[name]} uploads it, but job {job.id if job else '?'} does not `needs` it, so it runs alongside, not after)"
                return "failure", why, "", {}
            done = job_files(self.tools, "trees", {"pairs": [[visible[name], dest]]}, rw=self._writable(ws))
            if done.get("error"):
                return "failure", f"cannot download {name}: {done['error']}", "", {}
            return (
                "success",
                f"downloaded {name} into {os.path.relpath(dest, ws) if dest.startswith(ws) else dest}",
                "",
                {"download-path": dest},
            )
        pattern = with_.get("pattern")
        merge = with_.get("merge-multiple", "false").strip().lower() == "true"
        pairs = [
            [store, dest if merge else os.path.join(dest, n)]
            for n, store in visible.items()
            if not pattern or fnmatch.fnmatchcase(n, pattern)
        ]
        done = job_files(self.tools, "trees", {"pairs": pairs}, rw=self._writable(ws))
        if done.get("error"):
            return "failure", f"cannot download the artifacts: {done['error']}", "", {}
        return "success", f"downloaded {len(visible)} artifact(s)", "", {"download-path": dest}

    def _writable(self, ws: str) -> list[str]:
        """What a job's steps may write: its workspace, its runner.temp, the runner's HOME."""
        return [ws, os.path.join(os.path.dirname(ws), "tmp"), self.home]

    def _build_push(self, with_: dict, ws: str):
        context = with_.get("context")
        file_ = with_.get("file")
        if not context or context.startswith("{{defaultContext}}"):
            sub = context.split(":", 1)[1] if context and ":" in context else ""
            files = {
                f[len(sub) + 1 :] if sub else f
                for f in self.git_files
                if not sub or f.startswith(sub.rstrip("/") + "/")
            }
            df = os.path.join(self.source, sub, file_ or "Dockerfile")
            why = self._problems({"context": os.path.join(self.source, sub), "dockerfile": df, "files": sorted(files)})
            if (file_ or "Dockerfile") not in files and not why:
                why = [f"{file_ or 'Dockerfile'} is not committed"]
            how = "docker/build-push-action (Git context)"
        else:
            ctx_dir = context if os.path.isabs(context) else os.path.join(ws, context)
            df = (
                file_
                if file_ and os.path.isabs(file_)
                else os.path.join(ws, file_)
                if file_
                else os.path.join(ctx_dir, "Dockerfile")
            )
            why = (
                self._problems({"context": ctx_dir, "dockerfile": df, "show_base": ws})
                if os.path.isdir(ctx_dir)
                else [f"build context {context} does not exist"]
            )
            how = "docker/build-push-action"
        with open(self.sim_log, "a") as f:
            f.write(json.dumps({"event": "build", "ok": not why, "why": why, "how": how}) + "\n")
        if why:
            return "failure", "; ".join(why), "", {}
        return (
            "success",
            "image build emulated: the Dockerfile and every file it copies are in the context",
            "",
            {"imageid": "sha256:" + "0" * 64, "digest": "sha256:" + "0" * 64},
        )

    def _problems(self, request: dict) -> list[str]:
        """dockerctx.problems(), confined: the Dockerfile and the context are the candidate's."""
        done = job_files(self.tools, "problems", request)
        if done.get("error"):
            return [f"cannot read the build's files: {done['error']}"]
        return [str(w) for w in done.get("why") or []]
