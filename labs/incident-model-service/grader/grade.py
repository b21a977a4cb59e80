"""The lab's command checks, run in the grader container (uid 1001, /workspace read-only,
the sandbox's network, /tmp writable):

  grade.py supervised   the process on :8000 is the supervisor's and stays up
  grade.py predictions  the live /predict scores the grader's own customers like v3 does
  grade.py committed    the committed HEAD, started fresh (as after a reboot), does too
  grade.py incident     INCIDENT.md's root cause section names the real cause

Each prints one JSON line on stdout; on failure it exits 1 and its last stderr line is the
message the candidate reads.

`committed` runs the candidate's code (deploy/run.sh, their service) confined through
/opt/opslab/untrusted.py (confine.py): it cannot see /grader, may write only its copy of
the repository and its own HOME and TMPDIR, may listen only on the grader's port and reach
no TCP port; the grader's process never loads the candidate's code or artifacts. If the
wrapper refuses to run at all, the check reports the grader's error (exit 127).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confine import GraderProblem, confined, ensure_confinement, grader_problem  # noqa: E402

LIVE = "http://127.0.0.1:8000"
WORKSPACE = Path("/workspace")
MANAGED_BY = "churn-api-supervisor"
HIDDEN_SEED = 20251125
HIDDEN_CUSTOMERS = 250
TOLERANCE = 1e-4


def done(**result) -> None:
    print(json.dumps({"ok": True, **result}))
    sys.exit(0)


def fail(why: str, **result) -> None:
    print(json.dumps({"ok": False, "reason": why, **result}))
    print(why, file=sys.stderr)
    sys.exit(1)


def http(method: str, url: str, body=None, timeout: float = 10.0):
    """(status, parsed body) - or (None, why) when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read(4 * 1024 * 1024)
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read(64 * 1024)
    except (urllib.error.URLError, OSError) as e:
        return None, str(getattr(e, "reason", e))
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def get_health(base: str, wait: float):
    deadline = time.monotonic() + wait
    while True:
        status, body = http("GET", f"{base}/health", timeout=5)
        if status is not None or time.monotonic() > deadline:
            return status, body
        time.sleep(0.5)


# --- what production answered before release 2.4.0 ---------------------------------------


def expected_scores():
    import churn_models

    customers = churn_models.make_customers(HIDDEN_CUSTOMERS, HIDDEN_SEED)
    probabilities = churn_models.churn_probability(churn_models.train("v3"), customers)
    return customers, probabilities, churn_models.THRESHOLD


def judge_predictions(base: str, where: str) -> dict:
    """Scores the hidden customers at `base`; returns a summary or fails with a reason."""
    customers, want, threshold = expected_scores()
    status, body = http("POST", f"{base}/predict", {"customers": customers}, timeout=30)
    if status is None:
        fail(f"{where}: POST /predict got no answer ({body})")
    if status != 200:
        fail(f"{where}: POST /predict with {len(customers)} valid customers answered {status}: {str(body)[:200]}")
    preds = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(preds, list) or len(preds) != len(customers):
        got = len(preds) if isinstance(preds, list) else "no"
        fail(f"{where}: POST /predict returned {got} predictions for {len(customers)} customers (expected a `predictions` list, one per customer)")
    wrong = []
    for i, (p, w) in enumerate(zip(preds, want)):
        g = p.get("churn_probability") if isinstance(p, dict) else None
        risk = p.get("at_risk") if isinstance(p, dict) else None
        if not isinstance(g, (int, float)) or isinstance(g, bool) or abs(g - w) > TOLERANCE or risk != (w >= threshold):
            wrong.append((i, g, w))
    if wrong:
        i, g, w = wrong[0]
        fail(
            f"{where}: {len(wrong)} of {len(customers)} customers get another churn_probability than production gave "
            f"before release 2.4.0 (e.g. customer #{i}: {g}, expected {round(w, 6)})",
            wrong=len(wrong),
        )
    return {"customers": len(customers), "model_version": body.get("model_version")}


# --- checks ------------------------------------------------------------------------------


def check_supervised() -> None:
    status, first = get_health(LIVE, wait=3)
    if status is None:
        fail(f"nothing answers on 127.0.0.1:8000 ({first})")
    if status != 200 or not isinstance(first, dict):
        fail(f"GET /health answered {status}, not 200")
    if first.get("managed_by") != MANAGED_BY:
        fail(
            f"the process answering on port 8000 (pid {first.get('pid')}) was not started by the supervisor "
            f"(/health says managed_by={json.dumps(first.get('managed_by'))}): production runs it under the supervisor"
        )
    time.sleep(3)
    status, second = http("GET", f"{LIVE}/health", timeout=5)
    if status != 200 or not isinstance(second, dict):
        fail(f"churn-api stopped answering within 3 s of a healthy /health ({second if status is None else status}): it is not stable")
    if second.get("pid") != first.get("pid"):
        fail(f"churn-api restarted between two probes 3 s apart (pid {first.get('pid')} then {second.get('pid')}): it is not stable")
    done(pid=first.get("pid"), uptime_seconds=second.get("uptime_seconds"), restarts=second.get("restarts"))


def check_predictions() -> None:
    status, health = get_health(LIVE, wait=3)
    if status is None:
        fail(f"nothing answers on 127.0.0.1:8000 ({health})")
    done(**judge_predictions(LIVE, "the running churn-api"))


def read_env_file(path: Path) -> dict:
    """deploy/service.env as the supervisor reads it."""
    env = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"line {n} is not KEY=VALUE: {raw.rstrip()}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key] = value
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def committed_tree(dest: Path, scratch: Path) -> None:
    """Extracts the tree of HEAD. The candidate's git config and hooks are never used: a
    copy of .git gets a config of ours."""
    src = WORKSPACE / ".git"
    if not src.is_dir():
        fail("/workspace/.git is not a git repository folder")
    gitdir = scratch / "repo.git"
    top = {"hooks", "config", "index", "logs"}
    shutil.copytree(
        src, gitdir, symlinks=True,
        ignore=lambda d, names: [n for n in names if (d == str(src) and n in top) or n.endswith(".lock")],
    )
    (gitdir / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    tar = scratch / "head.tar"
    r = subprocess.run(
        ["git", f"--git-dir={gitdir}", "archive", "--format=tar", f"--output={tar}", "HEAD"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    if r.returncode != 0:
        fail(f"cannot read the committed tree (git archive HEAD): {r.stderr.strip()[:200]}")
    dest.mkdir()
    r = subprocess.run(["tar", "-x", "--no-same-owner", "-f", str(tar), "-C", str(dest)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"cannot unpack the committed tree: {r.stderr.strip()[:200]}")


def check_committed() -> None:
    try:
        ensure_confinement()
    except GraderProblem as e:
        grader_problem(str(e))
    scratch = Path("/tmp/restart-check")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    app = scratch / "workspace"
    committed_tree(app, scratch)

    env_file = app / "deploy" / "service.env"
    run_sh = app / "deploy" / "run.sh"
    for f in (env_file, run_sh):
        # A link (to a file outside the tree, say) is not the file the supervisor reads here.
        if not f.is_file() or not os.path.realpath(f).startswith(os.path.realpath(app) + os.sep):
            fail(f"{f.relative_to(app)} is not in the committed repository: the supervisor needs it to start churn-api")
    try:
        extra = read_env_file(env_file)
    except ValueError as e:
        fail(f"the committed deploy/service.env cannot be read: {e}")

    # The model store, rebuilt exactly as the setup published it, under /tmp.
    import churn_models

    store = scratch / "srv" / "models" / "churn"
    churn_models.publish(store)
    port = free_port()

    def relocate(text: str) -> str:
        return text.replace("/srv/models/", f"{scratch}/srv/models/").replace("/workspace/", f"{app}/")

    def unlocate(text: str) -> str:
        return text.replace(f"{scratch}/srv/models/", "/srv/models/").replace(f"{app}/", "/workspace/")

    # Point the committed files at the rebuilt store and at a port of ours.
    for f in app.rglob("*"):
        if f.is_file() and not f.is_symlink() and f.stat().st_size < 1024 * 1024:
            try:
                text = f.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            new = relocate(text)
            if f == env_file:
                new = re.sub(r"(?m)^(\s*(?:export\s+)?PORT\s*=).*$", rf"\g<1>{port}", new)
                new = re.sub(r"(?m)^(\s*(?:export\s+)?HOST\s*=).*$", r"\g<1>127.0.0.1", new)
            if new != text:
                f.write_text(new, encoding="utf-8")
    home, tmp = scratch / "home", scratch / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {
        "PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: relocate(v) for k, v in extra.items()})
    env.update(PORT=str(port), HOST="127.0.0.1", CHURN_API_MANAGED_BY=MANAGED_BY, CHURN_API_RESTARTS="0")
    log_path = scratch / "service.log"
    with open(log_path, "wb") as log:
        # The candidate's service: it may write its copy of the repository, HOME and
        # TMPDIR, and listen on `port`; the model store is read-only to it.
        proc = subprocess.Popen(
            confined(["/bin/bash", str(run_sh)], rw=[app, home, tmp], bind=[port]),
            cwd=app, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 75
        while True:
            if proc.poll() is not None:
                lines = [l for l in log_path.read_text(errors="replace").splitlines() if l.strip()]
                said = next((l for l in reversed(lines) if re.search(r"Error|Exception|error:", l)), lines[-1] if lines else "")
                fail(
                    "a fresh start of the committed repository (deploy/run.sh with the committed deploy/service.env) "
                    f"exits with status {proc.returncode}: {unlocate(said.strip())[:300]}"
                )
            status, body = http("GET", f"{base}/health", timeout=3)
            if status == 200:
                break
            if time.monotonic() > deadline:
                fail(f"a fresh start of the committed repository did not answer GET /health with 200 within 75 s (last: {status})")
            time.sleep(0.5)
        summary = judge_predictions(base, "a fresh start of the committed repository")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    done(model_path=unlocate(env.get("MODEL_PATH", "")), **summary)


HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
ROOT_CAUSE = re.compile(r"(?i)root[ -]?cause")
NAMES_VERSION = re.compile(r"(?i)\bv4\b|\bversion\s*4\b|/churn/v4")
NAMES_ARTIFACT = re.compile(r"(?i)model_path|service\.env|model\.joblib|/srv/models|\bpath\b|\bfile\b|artifact|\bmodel store\b")
SAYS_MISSING = re.compile(
    r"(?i)missing|filenotfound|no\s+such\s+file|absent|non-?existent|unpublished|rejected|"
    r"(?:not|n't|never)\s+(?:be\s+|been\s+|got\s+|was\s+)?(?:found|present|there|available|exist(?:s|ed)?|"
    r"published|uploaded|copied|released|created|in\s+the\s+(?:model\s+)?store)|"
    r"failed\s+(?:the\s+)?validation|did\s*not\s+pass|"
    r"\bno\s+(?:such\s+)?(?:v4\s+)?(?:model\s+)?(?:artifact|model\.joblib|file|model)\b"
)


def check_incident() -> None:
    path = WORKSPACE / "INCIDENT.md"
    if not path.is_file() or path.is_symlink():
        fail("there is no INCIDENT.md at the root of the repository")
    text = path.read_bytes()[: 512 * 1024].decode("utf-8", "replace")
    lines = text.splitlines()
    section = None
    for i, line in enumerate(lines):
        m = HEADING.match(line)
        if m and ROOT_CAUSE.search(m.group(2)):
            level = len(m.group(1))
            body = []
            for nxt in lines[i + 1:]:
                n = HEADING.match(nxt)
                if n and len(n.group(1)) <= level:
                    break
                body.append(nxt)
            section = "\n".join(body)
            break
    if section is None:
        fail("INCIDENT.md has no `Root cause` heading (e.g. `## Root cause`)")
    if len(section.strip()) < 40:
        fail("the Root cause section of INCIDENT.md is (almost) empty")
    missing = []
    if not NAMES_VERSION.search(section):
        missing.append("which model version the release switched to")
    if not NAMES_ARTIFACT.search(section):
        missing.append("which setting or file pointed the service at it")
    if not SAYS_MISSING.search(section):
        missing.append("what was wrong with that artifact")
    if missing:
        fail(
            "the Root cause section of INCIDENT.md does not name what really broke the service: it should say "
            + ", ".join(missing)
        )
    done(root_cause_chars=len(section.strip()))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    checks = {"supervised": check_supervised, "predictions": check_predictions, "committed": check_committed, "incident": check_incident}
    if what not in checks:
        print(f"usage: grade.py {'|'.join(checks)}", file=sys.stderr)
        sys.exit(2)
    checks[what]()
