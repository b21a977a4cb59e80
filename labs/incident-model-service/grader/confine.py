"""Runs the candidate's code confined, through the opslab server's wrapper
/opt/opslab/untrusted.py (Landlock; mounted read-only in every grader container, see its
docstring): files readable everywhere except /grader, writable only in the directories
given as `rw` (and /dev/null, /dev/shm); TCP only on the ports given (`bind` to listen,
`connect` to reach); no signals to the grader, no ptrace of it.

    from confine import confined, ensure_confinement, GraderProblem, grader_problem

`ensure_confinement()` runs the wrapper once on /bin/true before any candidate code, so a
wrapper that refuses (no Landlock in the kernel, the wrapper missing: it exits 126 with
"untrusted.py: ...") is told apart from anything the candidate's code does; the check then
reports it with `grader_problem()`: exit 127, which the `command` check turns into an
error of the grader ("a command not found in the grader"), never a failed check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

UNTRUSTED = "/opt/opslab/untrusted.py"
GRADER_PROBLEM_EXIT = 127


class GraderProblem(Exception):
    """The wrapper cannot run the candidate's code confined here."""


def confined(cmd: list, rw: list = (), bind: list = (), connect: list = ()) -> list[str]:
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


def grader_problem(why: str) -> None:
    """Exits the check as an error of the grader (exit 127), not a failure of the work."""
    print(json.dumps({"ok": False, "grader_error": why}))
    print(f"grader error, not a problem with the work: cannot run the candidate's code confined ({why})", file=sys.stderr)
    sys.exit(GRADER_PROBLEM_EXIT)
