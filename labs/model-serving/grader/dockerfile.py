"""A small Dockerfile reader for the grader: instructions, stages, variables, and the
build context as `.dockerignore` leaves it. No Docker here (the sandbox cannot build
images), so the checks read the Dockerfile the way the builder would.

Covers what real Dockerfiles use: line continuations, comment lines inside them,
heredocs (`RUN <<EOF`), JSON (exec) and shell forms, flags (`--from=`, `--chown=`...),
`${VAR}` / `$VAR` / `${VAR:-default}` substitution from ARG and ENV, multi-stage builds
(`FROM x AS name`, `FROM name`, `COPY --from=name`).

`.dockerignore` follows moby/patternmatcher: Go filepath.Match syntax plus `**`, paths
relative to the context root (a leading `/` is dropped), `!` re-includes, the last
matching line wins, and a line that matches a folder excludes everything under it.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
from dataclasses import dataclass, field

HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY...
    args: str  # everything after the keyword, continuations joined with spaces
    line: int  # 1-based line of the keyword
    heredocs: list[str] = field(default_factory=list)

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        """`--from=build --chown=1:1 a b` -> ({'from': 'build', 'chown': '1:1'}, 'a b')."""
        flags: dict[str, str] = {}
        rest = self.args.strip()
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            name, _, value = token[2:].partition("=")
            flags[name.lower()] = value
            rest = rest.strip()
        return flags, rest

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, or None for the shell form."""
        _, rest = self.flags_and_rest()
        if not rest.startswith("["):
            return None
        try:
            value = json.loads(rest)
        except ValueError:
            return None
        return [str(v) for v in value] if isinstance(value, list) else None


@dataclass
class Stage:
    index: int
    image: str  # as written (variables not substituted)
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    global_args: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: list[Stage]

    def stage_by_name(self, name: str) -> Stage | None:
        for s in self.stages:
            if s.name is not None and s.name.lower() == name.lower():
                return s
        return None

    def base_stage(self, stage: Stage) -> Stage | None:
        """The earlier stage this one is built FROM, if any."""
        ref = substitute(stage.image, self.global_args)
        earlier = self.stage_by_name(ref)
        return earlier if earlier is not None and earlier.index < stage.index else None

    def chain(self, stage: Stage) -> list[Stage]:
        """The stage and the stages it is built from, oldest first."""
        out = [stage]
        while (base := self.base_stage(out[0])) is not None and base not in out:
            out.insert(0, base)
        return out

    def variables(self, stage: Stage, upto: Instruction | None = None) -> dict[str, str]:
        """ARG defaults and ENV values in effect in `stage` (before `upto`, if given)."""
        env: dict[str, str] = {}
        for s in self.chain(stage):
            for ins in s.instructions:
                if ins is upto:
                    return env
                if ins.keyword == "ARG":
                    for name, value in parse_arg(ins.args):
                        env[name] = value if value is not None else self.global_args.get(name, env.get(name, ""))
                elif ins.keyword == "ENV":
                    for name, value in parse_env(ins.args, env):
                        env[name] = value
        return env


def read_dockerfile(text: str) -> Dockerfile:
    lines = text.splitlines()
    instructions: list[Instruction] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts = []
        while True:
            line = lines[i].rstrip()
            if line.endswith("\\"):
                parts.append(line[:-1])
                i += 1
                # Comment and empty lines inside a continuation are dropped.
                while i < len(lines) and (not lines[i].strip() or lines[i].strip().startswith("#")):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(line)
            i += 1
            break
        joined = " ".join(p.strip() for p in parts)
        keyword, _, args = joined.partition(" ")
        ins = Instruction(keyword.upper(), args.strip(), start + 1)
        # Heredocs: the body follows, up to a line holding only the delimiter.
        for m in HEREDOC.finditer(args):
            body = []
            while i < len(lines):
                candidate = lines[i].lstrip("\t") if m.group(1) == "-" else lines[i]
                i += 1
                if candidate.rstrip() == m.group(3):
                    break
                body.append(lines[i - 1])
            ins.heredocs.append("\n".join(body))
        instructions.append(ins)

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            _, rest = ins.flags_and_rest()
            tokens = rest.split()
            image = tokens[0] if tokens else ""
            name = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else None
            stages.append(Stage(len(stages), image, name, ins.line))
        elif not stages:
            if ins.keyword == "ARG":
                for n, v in parse_arg(ins.args):
                    global_args[n] = v or ""
        else:
            stages[-1].instructions.append(ins)
    return Dockerfile(instructions, global_args, stages)


def parse_arg(args: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for token in split_words(args):
        name, eq, value = token.partition("=")
        out.append((name, value if eq else None))
    return out


def parse_env(args: str, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    tokens = split_words(args)
    if tokens and "=" not in tokens[0]:
        # Legacy form: ENV KEY value with spaces
        name, _, value = args.strip().partition(" ")
        return [(name, substitute(value.strip(), env or {}))]
    out = []
    for token in tokens:
        name, _, value = token.partition("=")
        out.append((name, substitute(value, env or {})))
    return out


def split_words(args: str) -> list[str]:
    try:
        return shlex.split(args, comments=False, posix=True)
    except ValueError:
        return args.split()


VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def substitute(text: str, env: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        value = env.get(name)
        op, word = m.group(2), m.group(3)
        if op in ("-", ":-"):
            return value if value not in (None, "") else word
        if op in ("+", ":+"):
            return word if value not in (None, "") else ""
        return value or ""

    return VAR.sub(one, text)


# --- the build context ------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """moby/patternmatcher's translation of one .dockerignore pattern to a regex."""
    out = "^"
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if i + 1 < len(pattern) and pattern[i + 1] == "*":
                i += 1
                if i + 1 >= len(pattern):
                    out += ".*"
                else:
                    out += "(.*/)?"
                if i + 1 < len(pattern) and pattern[i + 1] == "/":
                    i += 1
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c in ".+()|{}$^":
            out += "\\" + c
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += c
        i += 1
    try:
        return re.compile(out + "$")
    except re.error:
        return re.compile(re.escape(pattern) + "$")


@dataclass
class IgnoreRule:
    text: str
    exclusion: bool  # a `!` line: re-includes
    regex: re.Pattern[str]


def read_dockerignore(text: str) -> list[IgnoreRule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = os.path.normpath(line).replace(os.sep, "/")
        if len(line) > 1 and line.startswith("/"):
            line = line.lstrip("/")
        if line in ("", "."):
            continue
        rules.append(IgnoreRule(raw.strip(), exclusion, _pattern_regex(line)))
    return rules


def ignored(path: str, rules: list[IgnoreRule]) -> IgnoreRule | None:
    """The rule that leaves `path` out of the context, or None when it is sent."""
    parents = path.split("/")
    candidates = [path] + ["/".join(parents[: k + 1]) for k in range(len(parents) - 1)]
    verdict: IgnoreRule | None = None
    for rule in rules:
        if any(rule.regex.match(p) for p in candidates):
            verdict = None if rule.exclusion else rule
    return verdict


def walk_files(root: str, limit: int = 50_000) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            out.append(name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/"))
            if len(out) >= limit:
                return out
    return out


def copy_sources(ins: Instruction) -> list[str] | None:
    """The context paths a COPY/ADD takes (None when it copies from a stage or image)."""
    flags, _ = ins.flags_and_rest()
    if "from" in flags:
        return None
    words = ins.exec_form()
    if words is None:
        _, rest = ins.flags_and_rest()
        words = rest.split()
    sources = words[:-1]
    return [s for s in sources if not s.startswith("<<") and not re.match(r"^[a-z][a-z0-9+.-]*://", s, re.I) and not s.startswith("git@")]


def _clean_source(src: str) -> str:
    s = os.path.normpath(src.lstrip("/")).replace(os.sep, "/")
    return "" if s in (".", "") else s


def files_for_source(src: str, context: list[str]) -> list[str]:
    """The context files a COPY source selects (a folder brings everything under it)."""
    s = _clean_source(src)
    if not s:
        return list(context)
    if not any(ch in s for ch in "*?["):
        return [p for p in context if p == s or p.startswith(s + "/")]
    pattern = s.split("/")
    return [
        p
        for p in context
        if len(p.split("/")) >= len(pattern)
        and all(fnmatch.fnmatchcase(part, want) for part, want in zip(p.split("/"), pattern))
    ]
