"""What a `docker build` would need from its context: the Dockerfile, and every local
source of its COPY/ADD instructions (not excluded by .dockerignore). Used by the grader's
docker stand-in and by its emulation of docker/build-push-action.

    python3 dockerctx.py build [docker build options] CONTEXT    # the docker CLI stand-in
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import shlex
import sys

VALUE_OPTIONS = {
    "-t",
    "--tag",
    "-f",
    "--file",
    "--build-arg",
    "--label",
    "--platform",
    "--target",
    "--network",
    "--cache-from",
    "--cache-to",
    "--secret",
    "--ssh",
    "-o",
    "--output",
    "--progress",
    "--iidfile",
    "--metadata-file",
    "--builder",
    "--add-host",
    "--shm-size",
    "--ulimit",
    "-m",
    "--memory",
    "--memory-swap",
    "--cpu-shares",
    "--cpuset-cpus",
    "--cpu-period",
    "--cpu-quota",
    "--isolation",
    "--build-context",
    "--annotation",
    "--attest",
    "--allow",
    "--cgroup-parent",
    "--security-opt",
    "--provenance",
    "--sbom",
    "--call",
    "--config",
    "--context",
    "-c",
    "--format",
    "--authfile",
}


def _dockerignore(context: str) -> list[tuple[bool, str]]:
    path = os.path.join(context, ".dockerignore")
    rules: list[tuple[bool, str]] = []
    if not os.path.isfile(path):
        return rules
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = os.path.normpath(line[1:] if neg else line).lstrip("/")
            rules.append((neg, pat))
    return rules


def _ignored(rel: str, rules: list[tuple[bool, str]]) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for neg, pat in rules:
        pat_re = pat.replace("**/", "*").replace("/**", "/*")
        if any(fnmatch.fnmatchcase(p, pat) or fnmatch.fnmatchcase(p, pat_re) for p in prefixes):
            ignored = not neg
    return ignored


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    with open(dockerfile, encoding="utf-8", errors="replace") as f:
        text = f.read()
    lines: list[str] = []
    buf = ""
    for raw in text.splitlines():
        s = raw.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        lines.append(buf + s)
        buf = ""
    if buf:
        lines.append(buf)
    out = []
    for line in lines:
        m = re.match(r"(\w+)\s*(.*)", line, re.S)
        if m:
            out.append((m.group(1).upper(), m.group(2)))
    return out


def shown(path: str) -> str:
    """A path as the candidate wrote it: relative to the job's workspace."""
    ws = os.environ.get("GITHUB_WORKSPACE") or os.environ.get("SIM_SHOW_BASE")
    if ws and (path == ws or path.startswith(ws.rstrip("/") + "/")):
        rel = os.path.relpath(path, ws)
        return "." if rel == "." else "./" + rel
    return path


def problems(context: str, dockerfile: str | None = None, files: set[str] | None = None) -> list[str]:
    """Why a build of `context` would fail, or []. With `files`, the context is that set of
    relative paths (a Git context: only committed files); otherwise the directory."""
    if dockerfile is None:
        dockerfile = os.path.join(context, "Dockerfile")
    if not os.path.isfile(dockerfile):
        empty = files is None and os.path.isdir(context) and not os.listdir(context)
        return [
            f"no Dockerfile at {shown(os.path.normpath(dockerfile))}"
            + (" (the build context is empty: is the repository checked out in this job?)" if empty else "")
        ]
    rules = [] if files is not None else _dockerignore(context)
    out: list[str] = []
    stages: set[str] = set()
    for inst, args in _instructions(dockerfile):
        if inst == "FROM":
            m = re.search(r"\bAS\s+(\S+)", args, re.I)
            if m:
                stages.add(m.group(1).lower())
            continue
        if inst not in ("COPY", "ADD"):
            continue
        args = args.strip()
        if args.startswith("["):
            try:
                words = json.loads(args)
            except ValueError:
                continue
        else:
            try:
                words = shlex.split(args)
            except ValueError:
                words = args.split()
        flags = [w for w in words if w.startswith("--")]
        words = [w for w in words if not w.startswith("--")]
        if any(f.startswith("--from") for f in flags) or len(words) < 2:
            continue
        for src in words[:-1]:
            if re.match(r"^[a-z]+://", src) or src.startswith("git@"):
                continue
            rel = os.path.normpath(src).lstrip("/")
            if rel in (".", ""):
                continue
            if files is not None:
                found = any(
                    f == rel or f.startswith(rel.rstrip("/") + "/") or fnmatch.fnmatchcase(f, rel) for f in files
                )
                where = "the Git context (committed files only)"
            else:
                matches = glob.glob(os.path.join(context, rel))
                found = any(not _ignored(os.path.relpath(p, context), rules) for p in matches)
                where = f"the build context {shown(os.path.normpath(context))}"
            if not found:
                out.append(f"{inst} {src}: not found in {where}")
    return out


def _cli(argv: list[str]) -> int:
    """`docker build ...` (also buildx build, image build): check, log, never build."""
    args = list(argv)
    dockerfile = None
    positional: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-f", "--file") and i + 1 < len(args):
            dockerfile = args[i + 1]
            i += 2
            continue
        if a.startswith("--file="):
            dockerfile = a.split("=", 1)[1]
        elif a in VALUE_OPTIONS:
            i += 2
            continue
        elif a.startswith("-"):
            pass
        else:
            positional.append(a)
        i += 1
    context = positional[-1] if positional else None
    log = os.environ.get("SIM_LOG")
    if context is None:
        why = ["docker build needs a build context (for example `.`)"]
    elif context == "-" or re.match(r"^(https?|git)://|^git@", context):
        why = []
    else:
        context = os.path.abspath(context)
        df = os.path.abspath(dockerfile) if dockerfile and dockerfile != "-" else None
        why = problems(context, df) if os.path.isdir(context) else [f"build context {shown(context)} does not exist"]
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": "build", "ok": not why, "why": why, "how": "docker build"}) + "\n")
    if why:
        for w in why:
            print(f"ERROR: {w}", file=sys.stderr)
        return 1
    print("(grader) docker build: the Dockerfile and every file it copies are in the context; not built here")
    return 0


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "build" else sys.argv[1:]))
