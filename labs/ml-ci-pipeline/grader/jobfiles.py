"""The emulator's work on files a workflow names or its steps wrote, run confined (through
/opt/opslab/untrusted.py, see confine.py) so that the grader's own process never opens a
path the candidate controls: a link to /grader, a folder swapped for a link while it is
read, an artifact path of /grader/... all meet Landlock, not the grader's rights.

    python3 jobfiles.py OP < request.json    (prints one JSON answer)

  trees     {"pairs": [[src, dst], ...]}  copy each folder into dst (existing files
            overwritten, links kept as links, a link in the way replaced, not followed)
  files     {"pairs": [[src, dst], ...], "plain"?: true}  copy each file (a source link
            is followed); plain: contents only, made executable if the source is (a checkout)
  upload    {"patterns": [...], "ws": ..., "store": ...}  actions/upload-artifact v4: the
            files the patterns match, stored relative to their least common ancestor
  problems  {"context", "dockerfile", "files"?, "show_base"?}  dockerctx.problems()
  metrics   {"ws": ...}  the first metrics.json under ws, if it is a JSON object

Answers {"error": "..."} when an operation fails. A copy of this file and of dockerctx.py
is made under the runner's root (gha_emul.shim_tools): the confined process cannot see
/grader.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import shutil
import sys


def _copy_tree(src: str, dst: str) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target = os.path.normpath(os.path.join(dst, rel))
        if os.path.islink(target):
            os.unlink(target)
        os.makedirs(target, exist_ok=True)
        for name in dirnames + filenames:
            s, d = os.path.join(dirpath, name), os.path.join(target, name)
            if os.path.islink(s):
                if os.path.islink(d) or (os.path.lexists(d) and not os.path.isdir(d)):
                    os.unlink(d)
                if not os.path.lexists(d):
                    os.symlink(os.readlink(s), d)
            elif name in filenames:
                if os.path.islink(d):
                    os.unlink(d)
                shutil.copy2(s, d)


def _copy_file(src: str, dst: str, plain: bool = False) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.islink(dst):
        os.unlink(dst)
    if plain:
        shutil.copyfile(src, dst)
        if os.access(src, os.X_OK):
            os.chmod(dst, 0o755)
    else:
        shutil.copy2(src, dst)


def op_trees(req: dict) -> dict:
    for src, dst in req["pairs"]:
        _copy_tree(src, dst)
    return {}


def op_files(req: dict) -> dict:
    for src, dst in req["pairs"]:
        _copy_file(src, dst, plain=bool(req.get("plain")))
    return {}


def op_upload(req: dict) -> dict:
    ws, store = req["ws"], req["store"]
    patterns = req["patterns"]
    includes = [p for p in patterns if not p.startswith("!")]
    excludes = [p[1:] for p in patterns if p.startswith("!")]
    files: set[str] = set()
    roots = []
    for pat in includes:
        full = pat if os.path.isabs(pat) else os.path.join(ws, pat)
        full = os.path.normpath(full)
        if any(c in pat for c in "*?["):
            root = full.split("*")[0].split("?")[0].split("[")[0]
            root = root if root.endswith("/") else os.path.dirname(root)
            roots.append(os.path.normpath(root))
            for m in glob.glob(full, recursive=True):
                if os.path.isfile(m):
                    files.add(m)
                elif os.path.isdir(m):
                    files.update(q for q in glob.glob(os.path.join(m, "**"), recursive=True) if os.path.isfile(q))
        elif os.path.isfile(full):
            roots.append(os.path.dirname(full))
            files.add(full)
        elif os.path.isdir(full):
            roots.append(full)
            files.update(q for q in glob.glob(os.path.join(full, "**"), recursive=True) if os.path.isfile(q))
        else:
            roots.append(os.path.dirname(full))
    for ex in excludes:
        full = os.path.normpath(ex if os.path.isabs(ex) else os.path.join(ws, ex))
        files = {f for f in files if not (fnmatch.fnmatchcase(f, full) or f.startswith(full + "/"))}
    if not files:
        return {"files": []}
    root = os.path.commonpath(roots) if roots else ws
    for f in files:
        _copy_file(f, os.path.join(store, os.path.relpath(f, root)))
    return {"files": sorted(os.path.relpath(f, root) for f in files)}


def op_problems(req: dict) -> dict:
    import dockerctx

    if req.get("show_base"):
        os.environ["SIM_SHOW_BASE"] = req["show_base"]
    files = set(req["files"]) if req.get("files") is not None else None
    return {"why": dockerctx.problems(req["context"], req["dockerfile"], files=files)}


def _first_metrics(ws: str) -> str | None:
    """The first metrics.json in the order of glob("ws/**/metrics.json"), without following
    links to folders (a link back up would never end) or entering hidden ones."""
    for dirpath, dirnames, filenames in os.walk(ws):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if "metrics.json" in filenames:
            return os.path.join(dirpath, "metrics.json")
    return None


def op_metrics(req: dict) -> dict:
    for p in [m for m in [_first_metrics(req["ws"])] if m]:
        try:
            with open(p) as f:
                m = json.load(f)
            return {"metrics": m if isinstance(m, dict) else None}
        except (OSError, ValueError):
            return {"metrics": None}
    return {"metrics": None}


OPS = {"trees": op_trees, "files": op_files, "upload": op_upload, "problems": op_problems, "metrics": op_metrics}


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        answer = OPS[sys.argv[1]](json.load(sys.stdin))
    except OSError as e:
        answer = {"error": f"{e.filename}: {e.strerror}" if getattr(e, "filename", None) else str(e.strerror or e)}
    except Exception as e:  # noqa: BLE001 - whatever the workflow's files make of it, said as the step's failure
        answer = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(answer) + "\n")
