"""Runs the candidate's code (and every file operation on paths the candidate controls)
confined, through the opslab server's wrapper /opt/opslab/untrusted.py (Landlock; mounted
read-only in every grader container, see its docstring):

- files: readable everywhere except /grader; writable only in the directories given as
  `rw` (and /dev/null, /dev/shm);
- no TCP, no signals to the grader, no ptrace of it.

    from confine import confined, ensure_confinement, GraderProblem, grader_problem, run_helper

`run_helper()` runs a trusted helper script (jobfiles.py) confined the same way, for the
emulator's file work on paths the candidate controls.

`ensure_confinement()` runs the wrapper once on /bin/true before any candidate code, so
that a wrapper that refuses (no Landlock in the kernel, the wrapper missing: it exits
126 with "untrusted.py: ...") is the grader's problem, told apart from anything the
candidate's code does. The command that catches GraderProblem reports it with
`grader_problem()`: exit 127, which the `command` check turns into an error of the grader
("a command not found in the grader"), never a failed check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

UNTRUSTED = "/opt/opslab/untrusted.py"
GRADER_PROBLEM_EXIT = 127

_checked = False


class GraderProblem(Exception):
    """The wrapper cannot run the candidate's code confined here."""


def confined(cmd: list[str], rw: list[str] = (), bind: list[int] = (), connect: list[int] = ()) -> list[str]:
    argv = [sys.executable, UNTRUSTED]
    for d in rw:
        argv += ["--rw", str(d)]
    for p in bind:
        argv += ["--bind", str(p)]
    for p in connect:
        argv += ["--connect", str(p)]
    return [*argv, "--", *(str(c) for c in cmd)]


def ensure_confinement() -> None:
    """Raises GraderProblem, with the wrapper's own words, when it cannot confine anything."""
    global _checked
    if _checked:
        return
    if not os.path.isfile(UNTRUSTED):
        raise GraderProblem(f"{UNTRUSTED} is not in the grader container")
    try:
        r = subprocess.run(
            confined(["/bin/true"]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GraderProblem(f"cannot run {UNTRUSTED}: {e}") from None
    if r.returncode != 0:
        said = [ln.strip() for ln in r.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        raise GraderProblem(said[-1] if said else f"{UNTRUSTED} exited {r.returncode}")
    _checked = True


def grader_problem(why: str) -> None:
    """Exits the check as an error of the grader (exit 127), not a failure of the work."""
    print(json.dumps({"ok": False, "grader_error": why}))
    print(f"grader error, not a problem with the work: cannot run the candidate's code confined ({why})", file=sys.stderr)
    sys.exit(GRADER_PROBLEM_EXIT)


def run_helper(script: str, op: str, request: dict, rw: list[str] = (), timeout: float = 60) -> dict:
    """Runs `python3 script op` confined with `request` as JSON on stdin; its JSON answer
    ({"error": ...} when it failed). A helper that dies without answering raises GraderProblem."""
    try:
        r = subprocess.run(
            confined([sys.executable, "-I", script, op], rw=rw),
            input=json.dumps(request).encode(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {int(timeout)} s"}
    lines = r.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1])
        if isinstance(answer, dict):
            return answer
    except (ValueError, IndexError):
        pass
    err = [ln.strip() for ln in r.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    raise GraderProblem(f"{os.path.basename(script)} {op} failed (exit {r.returncode}): {err[-1] if err else 'no output'}")
