"""The Dockerfile checks that a linter cannot make: each reads /workspace/Dockerfile (and
.dockerignore) the way the builder would, and prints one line: on success to stdout
(exit 0), on failure the reason to stderr (exit 1) - the check's message.

    python3 /grader/audit_dockerfile.py base|user|secrets|context|serve

base     every FROM names a pinned image: a digest, or a tag with at least major.minor
user     the final image runs as a user other than root, and that user exists
secrets  no credential in ENV/ARG (Docker's SecretsUsedInArgOrEnv naming rule), none of
         the repository's real credentials anywhere in the file, no .env copied in
context  .dockerignore keeps .git, .env and .venv out of the build context, and still
         sends everything the Dockerfile COPYs
serve    the image gets the model and its command listens on 0.0.0.0 (reachable through
         `docker run -p 8000:8000`)
"""
from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dockerfile import (  # noqa: E402
    Dockerfile,
    Instruction,
    copy_sources,
    files_for_source,
    ignored,
    parse_arg,
    parse_env,
    read_dockerfile,
    read_dockerignore,
    substitute,
    walk_files,
)

WORKSPACE = os.environ.get("WORKSPACE", "/workspace")

# The starter's leaked credentials: the API key in its Dockerfile, the warehouse
# password in the .env file the setup writes.
KNOWN_SECRETS = ["ck_live_4f8Qz27XbLr9Tn3KcW5aYp1E", "Pq7-hv2Lw9-Xc4t"]
# BuildKit's SecretsUsedInArgOrEnv: a secret-looking word in the name, unless "public"...
SECRET_NAME = re.compile(r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)")
SECRET_NAME_ALLOWED = re.compile(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)")
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)

# Files a developer's checkout has (or CI's: the model is trained before the build),
# added to the context the checks simulate.
PROBES = {
    ".git/HEAD": ".git",
    ".git/config": ".git",
    ".env": ".env",
    ".venv/pyvenv.cfg": ".venv",
    ".venv/bin/python": ".venv",
    "model/model.joblib": None,
}
MODEL_FILE = "model/model.joblib"
# Users every Debian-based image has.
SYSTEM_USERS = {"nobody", "daemon", "bin", "sys", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data", "backup", "list", "irc", "nonroot"}


def ok(message: str) -> None:
    print(message)
    sys.exit(0)


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def load() -> Dockerfile:
    path = os.path.join(WORKSPACE, "Dockerfile")
    if os.path.islink(path) or not os.path.isfile(path):
        fail("there is no Dockerfile at the root of the repository")
    with open(path, encoding="utf-8", errors="replace") as f:
        df = read_dockerfile(f.read())
    if not df.stages:
        fail("the Dockerfile has no FROM instruction")
    return df


def show(ins: Instruction) -> str:
    text = f"{ins.keyword} {ins.args}"
    return (text if len(text) <= 70 else text[:69] + "…") + f" (line {ins.line})"


# --- base ----------------------------------------------------------------------------------


def check_base() -> None:
    df = load()
    pinned = []
    for stage in df.stages:
        ref = substitute(stage.image, df.global_args).strip()
        where = f"FROM {stage.image} (line {stage.line})"
        if ref.lower() == "scratch" or df.base_stage(stage) is not None:
            continue
        if not ref:
            fail(f"{where}: the image name is empty once its ARGs are filled in - give the ARG a default")
        if re.search(r"@sha256:[0-9a-f]{64}$", ref):
            pinned.append(ref)
            continue
        name = ref.rsplit("/", 1)[-1]
        if ":" not in name:
            fail(f"{where} has no tag, so it means {ref}:latest - it changes under you; pin a version tag or a digest")
        tag = name.split(":", 1)[1]
        if tag.lower() == "latest":
            fail(f"{where} uses latest - pin a version tag (e.g. 3.11-slim-bookworm) or a digest")
        if not re.search(r"\d+\.\d+", tag):
            fail(f"{where}: the tag {tag} is not a version (at least major.minor, e.g. 3.11-slim) - it moves to new releases")
        pinned.append(ref)
    ok(f"base images pinned: {', '.join(dict.fromkeys(pinned)) or 'none needed'}")


# --- user ----------------------------------------------------------------------------------


def check_user() -> None:
    df = load()
    final = df.stages[-1]
    chain = df.chain(final)
    users = [(s, ins) for s in chain for ins in s.instructions if ins.keyword == "USER"]
    if not users:
        base = substitute(chain[0].image, df.global_args)
        if "nonroot" in base.lower():
            ok(f"the final image inherits a non-root user from {base}")
        fail("the final stage has no USER, so the container runs as root (the python images default to root)")
    stage, ins = users[-1]
    value = substitute(ins.args.strip(), df.variables(stage, upto=ins)).strip()
    user = value.split(":", 1)[0].strip()
    if not user:
        fail(f"{show(ins)}: the user name is empty once its variables are filled in (an ARG from before FROM must be declared again in the stage)")
    if user in ("root", "0"):
        fail(f"{show(ins)}: the last USER of the final stage is root, so the service runs as root")
    if user.isdigit():
        ok(f"runs as uid {user} ({show(ins)})")
    runs = " \n".join(
        substitute(" ".join([i.args, *i.heredocs]), df.variables(s, upto=i))
        for s in chain
        for i in s.instructions
        if i.keyword == "RUN"
    )
    runs = re.sub(r"\\[ \t]*\n", " ", runs)  # continuations inside heredocs
    created = re.search(r"\b(useradd|adduser)\b[^\n]*\b" + re.escape(user) + r"\b", runs) or re.search(
        r"/etc/passwd", runs
    ) and re.search(r"\b" + re.escape(user) + r"\b", runs)
    if created or user in SYSTEM_USERS:
        ok(f"runs as {user} ({show(ins)})")
    fail(
        f"{show(ins)}: no RUN creates the user {user} (useradd/adduser), so the container would not start "
        f"(unable to find user {user}) - create it, or use a numeric uid"
    )


# --- context -------------------------------------------------------------------------------


def context_files() -> tuple[list[str], list, bool]:
    """(files the build sends, the .dockerignore rules, whether .dockerignore exists)."""
    files = set(walk_files(WORKSPACE)) | set(PROBES)
    path = os.path.join(WORKSPACE, ".dockerignore")
    exists = os.path.isfile(path) and not os.path.islink(path)
    rules = []
    if exists:
        with open(path, encoding="utf-8", errors="replace") as f:
            rules = read_dockerignore(f.read())
    return sorted(p for p in files if ignored(p, rules) is None), rules, exists


def copies(df: Dockerfile, context: list[str]) -> list[tuple[Instruction, str, list[str]]]:
    """Each COPY/ADD source from the context, with the files it brings in."""
    out = []
    for stage in df.stages:
        for ins in stage.instructions:
            if ins.keyword not in ("COPY", "ADD"):
                continue
            for src in copy_sources(ins) or []:
                src = substitute(src, df.variables(stage, upto=ins))
                out.append((ins, src, files_for_source(src, context)))
    return out


def check_context() -> None:
    df = load()
    context, _, exists = context_files()
    if not exists:
        fail("there is no .dockerignore: the whole folder - .git, .env, .venv - is sent to the builder")
    sent = sorted({PROBES[p] for p in PROBES if PROBES[p] and p in context})
    if sent:
        fail(f".dockerignore still sends {', '.join(sent)} to the build context - leave out at least .git, .env and .venv")
    for ins, src, files in copies(df, context):
        if not files:
            fail(f"{show(ins)}: nothing in the build context matches {src} - the build would fail (check .dockerignore)")
    ok(".dockerignore leaves out .git, .env and .venv, and keeps everything the Dockerfile copies")


# --- secrets -------------------------------------------------------------------------------


def check_secrets() -> None:
    df = load()
    with open(os.path.join(WORKSPACE, "Dockerfile"), encoding="utf-8", errors="replace") as f:
        text = f.read()
    for secret in KNOWN_SECRETS:
        if secret in text:
            line = text[: text.index(secret)].count("\n") + 1
            fail(f"line {line} of the Dockerfile holds a real credential - take it out (and have it rotated)")
    for ins in df.instructions:
        if ins.keyword == "ARG":
            pairs = [(n, v or "") for n, v in parse_arg(ins.args)]
        elif ins.keyword == "ENV":
            pairs = parse_env(ins.args)
        else:
            continue
        for name, value in pairs:
            if SECRET_NAME.search(name) and not SECRET_NAME_ALLOWED.search(name):
                fail(
                    f"{show(ins)}: {ins.keyword} {name} looks like a credential, and {ins.keyword} values stay in the "
                    "image and its history - pass secrets at run time (or with a build secret mount)"
                )
            if URL_WITH_PASSWORD.search(value):
                fail(f"{show(ins)}: {name} holds a URL with a password in it")
    context, _, _ = context_files()
    for ins, src, files in copies(df, context):
        leaked = [p for p in files if re.search(r"(^|/)\.env(\.[^/]*)?$", p)]
        if leaked:
            fail(f"{show(ins)} copies {leaked[0]} (the warehouse credentials) into the image")
    ok("no credentials in ENV or ARG, and no .env copied into the image")


# --- serve ---------------------------------------------------------------------------------


def _script_text(token: str) -> str:
    """The text of a workspace file a CMD names: a start script, or a module run with -m."""
    basenames = {os.path.basename(token)} if re.search(r"\.(sh|py)$", token) else set()
    modules = set()
    if re.fullmatch(r"[A-Za-z_][\w.]*", token):
        modules = {token.replace(".", "/") + ".py", token.replace(".", "/") + "/__main__.py"}
    texts = []
    for rel in walk_files(WORKSPACE, limit=5000):
        if rel.startswith(".git/") or not (rel in modules or os.path.basename(rel) in basenames):
            continue
        try:
            with open(os.path.join(WORKSPACE, rel), encoding="utf-8", errors="replace") as f:
                texts.append(f.read(200_000))
        except OSError:
            pass
    return "\n".join(texts)


def _words(ins: Instruction) -> list[str]:
    words = ins.exec_form()
    return words if words is not None else ins.args.split()


def check_serve() -> None:
    df = load()
    final = df.stages[-1]
    chain = df.chain(final)
    last: dict[str, Instruction] = {}
    for s in chain:
        for ins in s.instructions:
            if ins.keyword in ("CMD", "ENTRYPOINT"):
                last[ins.keyword] = ins
    if not last:
        fail("the final stage has no CMD or ENTRYPOINT, so the container does not start the service")
    words = [w for k in ("ENTRYPOINT", "CMD") if k in last for w in _words(last[k])]
    command = " ".join(words)
    env = df.variables(final)
    listens_all = r"0\.0\.0\.0|(?:--host[= ]|--bind[= ]|-b ?)\[?::\]?(?:\s|:|$)"
    scripts = "\n".join(_script_text(w) for w in words if not w.startswith("-"))
    if not (
        re.search(listens_all, substitute(command, env))
        or env.get("UVICORN_HOST") in ("0.0.0.0", "::")
        or "0.0.0.0" in env.get("GUNICORN_CMD_ARGS", "")
        or re.search(listens_all, scripts)
        # `fastapi run` (fastapi-cli) listens on 0.0.0.0 unless told otherwise.
        or re.search(r"(?:^|\s)fastapi run\b", command) and "--host" not in command
    ):
        shown = show(last.get("CMD") or last["ENTRYPOINT"])
        fail(
            f"{shown}: the server listens on 127.0.0.1 (uvicorn's default) inside the container, so "
            "`docker run -p 8000:8000` cannot reach it - make it listen on 0.0.0.0"
        )
    context, _, _ = context_files()
    gets_model = any(MODEL_FILE in files for _, _, files in copies(df, context))
    trains = any(
        ins.keyword == "RUN" and "train.py" in " ".join([ins.args, *ins.heredocs]) for s in df.stages for ins in s.instructions
    )
    if not (gets_model or trains):
        fail(f"no COPY brings {MODEL_FILE} into the image (and no RUN trains it), so the service has no model to load")
    ok(f"serves on 0.0.0.0 with the model: {command}")


CHECKS = {"base": check_base, "user": check_user, "secrets": check_secrets, "context": check_context, "serve": check_serve}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        print(f"usage: audit_dockerfile.py {'|'.join(CHECKS)}", file=sys.stderr)
        sys.exit(2)
    CHECKS[sys.argv[1]]()
