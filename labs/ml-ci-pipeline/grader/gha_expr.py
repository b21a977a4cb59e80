"""GitHub Actions expressions (`${{ ... }}` and `if:`), as documented by GitHub:
literals, context paths (a.b, a['b'], a.*.b), ! == != < <= > >= && ||, and the functions
contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles and the status
functions success, failure, always, cancelled.

Comparison follows GitHub's loose rules: strings compare case-insensitively; values of
different types are compared as numbers (null 0, booleans 1/0, strings parsed, '' 0).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

STATUS_FUNCTIONS = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.I)


class ExprError(Exception):
    pass


class _Unknown:
    """A value the static plan cannot know (a step's output, a secret): comparisons with it
    are unknown, && and || follow three-valued logic, and an unknown condition may run."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>0x[0-9a-fA-F]+|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<str>'(?:[^']|'')*')
    | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\[|\]|\.|,|\*)
    | (?P<id>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.X,
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"unexpected {text[pos : pos + 10]!r} in expression {text!r}")
        pos = m.end()
        if m.group("num") is not None:
            raw = m.group("num")
            # "a.b" must not lex ".b"; a number right after an identifier or ')' or ']' is a path
            out.append(("num", int(raw, 16) if raw.lower().startswith("0x") else float(raw)))
        elif m.group("str") is not None:
            out.append(("str", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            out.append(("id", m.group("id")))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]):
        self.t = tokens
        self.i = 0

    def peek(self, value: str | None = None) -> bool:
        if self.i >= len(self.t):
            return False
        kind, v = self.t[self.i]
        return value is None or (kind == "op" and v == value)

    def take(self, value: str | None = None) -> tuple[str, Any]:
        if self.i >= len(self.t):
            raise ExprError("unexpected end of expression")
        tok = self.t[self.i]
        if value is not None and not (tok[0] == "op" and tok[1] == value):
            raise ExprError(f"expected {value!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.or_()
        if self.i != len(self.t):
            raise ExprError(f"unexpected {self.t[self.i][1]!r}")
        return node

    def or_(self):
        node = self.and_()
        while self.peek("||"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.eq()
        while self.peek("&&"):
            self.take()
            node = ("and", node, self.eq())
        return node

    def eq(self):
        node = self.cmp()
        while self.peek("==") or self.peek("!="):
            op = self.take()[1]
            node = (op, node, self.cmp())
        return node

    def cmp(self):
        node = self.unary()
        while any(self.peek(o) for o in ("<", "<=", ">", ">=")):
            op = self.take()[1]
            node = (op, node, self.unary())
        return node

    def unary(self):
        if self.peek("!"):
            self.take()
            return ("not", self.unary())
        return self.postfix()

    def postfix(self):
        node = self.primary()
        while True:
            if self.peek("."):
                self.take()
                kind, v = self.take()
                if kind == "op" and v == "*":
                    node = ("star", node)
                elif kind == "id":
                    node = ("get", node, ("lit", v))
                elif kind == "num":  # a.0 is not valid, but a.b-1 lexes as id anyway
                    node = ("get", node, ("lit", str(int(v)) if float(v).is_integer() else str(v)))
                else:
                    raise ExprError(f"unexpected {v!r} after '.'")
            elif self.peek("["):
                self.take()
                if self.peek("*"):
                    self.take()
                    self.take("]")
                    node = ("star", node)
                else:
                    key = self.or_()
                    self.take("]")
                    node = ("get", node, key)
            else:
                return node

    def primary(self):
        kind, v = self.take()
        if kind == "num" or kind == "str":
            return ("lit", v)
        if kind == "op" and v == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "id":
            low = v.lower()
            if low == "true":
                return ("lit", True)
            if low == "false":
                return ("lit", False)
            if low == "null":
                return ("lit", None)
            if self.peek("("):
                self.take()
                args = []
                if not self.peek(")"):
                    args.append(self.or_())
                    while self.peek(","):
                        self.take()
                        args.append(self.or_())
                self.take(")")
                return ("call", low, args)
            return ("ctx", low)
        raise ExprError(f"unexpected {v!r}")


def truthy(v: Any) -> bool:
    if v is UNKNOWN:
        return True
    if v is None or v is False:
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0 and not (isinstance(v, float) and math.isnan(v))
    if isinstance(v, str):
        return v != ""
    return True


def to_number(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0.0
        try:
            return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
        except ValueError:
            return math.nan
    return math.nan


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "obj"


def loose_eq(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka == kb:
        if ka == "str":
            return a.lower() == b.lower()
        if ka == "num":
            return float(a) == float(b)
        if ka == "obj":
            return a is b
        return a == b
    if ka == "obj" or kb == "obj":
        return False
    return to_number(a) == to_number(b)


def _compare(a: Any, b: Any) -> float | None:
    """<0, 0, >0, or None when not comparable (NaN)."""
    if _kind(a) == "str" and _kind(b) == "str":
        x, y = a.lower(), b.lower()
        return (x > y) - (x < y)
    x, y = to_number(a), to_number(b)
    if math.isnan(x) or math.isnan(y):
        return None
    return (x > y) - (x < y)


def to_string(v: Any) -> str:
    if v is None or v is UNKNOWN:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, indent=2)


def _get(obj: Any, key: Any) -> Any:
    if obj is UNKNOWN or key is UNKNOWN:
        return UNKNOWN
    if isinstance(obj, dict):
        if isinstance(key, str):
            if key in obj:
                return obj[key]
            low = key.lower()
            for k, v in obj.items():
                if isinstance(k, str) and k.lower() == low:
                    return v
        return None
    if isinstance(obj, list):
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            i = int(key)
            return obj[i] if 0 <= i < len(obj) else None
        if isinstance(key, str):  # a filtered array: map the property over it
            return [_get(x, key) for x in obj]
    return None


def _format(fmt: str, args: list[Any]) -> str:
    def repl(m: re.Match) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        i = int(m.group(1))
        return to_string(args[i]) if i < len(args) else ""

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", repl, fmt)


class Evaluator:
    """Evaluates expressions against `contexts` (lower-case names: github, env, ...) and a
    `status` dict {success, failure, cancelled} for the status functions."""

    def __init__(self, contexts: dict[str, Any], status: dict[str, bool] | None = None):
        self.contexts = contexts
        self.status = status or {"success": True, "failure": False, "cancelled": False}

    def eval(self, text: str) -> Any:
        return self._eval(_Parser(_tokens(text)).parse())

    def _eval(self, n) -> Any:
        op = n[0]
        if op == "lit":
            return n[1]
        if op == "ctx":
            return self.contexts.get(n[1])
        if op == "get":
            return _get(self._eval(n[1]), self._eval(n[2]))
        if op == "star":
            base = self._eval(n[1])
            if base is UNKNOWN:
                return UNKNOWN
            if isinstance(base, dict):
                return list(base.values())
            if isinstance(base, list):
                return list(base)
            return []
        if op == "not":
            v = self._eval(n[1])
            return UNKNOWN if v is UNKNOWN else not truthy(v)
        if op == "and":
            left = self._eval(n[1])
            if left is UNKNOWN:
                right = self._eval(n[2])
                return right if right is not UNKNOWN and not truthy(right) else UNKNOWN
            return self._eval(n[2]) if truthy(left) else left
        if op == "or":
            left = self._eval(n[1])
            if left is UNKNOWN:
                right = self._eval(n[2])
                return right if right is not UNKNOWN and truthy(right) else UNKNOWN
            return left if truthy(left) else self._eval(n[2])
        if op in ("==", "!="):
            a, b = self._eval(n[1]), self._eval(n[2])
            if a is UNKNOWN or b is UNKNOWN:
                return UNKNOWN
            r = loose_eq(a, b)
            return r if op == "==" else not r
        if op in ("<", "<=", ">", ">="):
            a, b = self._eval(n[1]), self._eval(n[2])
            if a is UNKNOWN or b is UNKNOWN:
                return UNKNOWN
            c = _compare(a, b)
            if c is None:
                return False
            return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
        if op == "call":
            return self._call(n[1], [self._eval(a) for a in n[2]])
        raise ExprError(f"cannot evaluate {op}")

    def _call(self, name: str, args: list[Any]) -> Any:
        if name == "success":
            return self.status["success"]
        if name == "failure":
            return self.status["failure"]
        if name == "always":
            return True
        if name == "cancelled":
            return self.status["cancelled"]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if name == "contains" and len(args) == 2:
            hay, needle = args
            if isinstance(hay, list):
                return any(loose_eq(x, needle) for x in hay)
            return to_string(needle).lower() in to_string(hay).lower()
        if name == "startswith" and len(args) == 2:
            return to_string(args[0]).lower().startswith(to_string(args[1]).lower())
        if name == "endswith" and len(args) == 2:
            return to_string(args[0]).lower().endswith(to_string(args[1]).lower())
        if name == "format" and args:
            return _format(to_string(args[0]), args[1:])
        if name == "join" and args:
            sep = to_string(args[1]) if len(args) > 1 else ","
            if isinstance(args[0], list):
                return sep.join(to_string(x) for x in args[0])
            return to_string(args[0])
        if name == "tojson" and len(args) == 1:
            return json.dumps(args[0], indent=2)
        if name == "fromjson" and len(args) == 1:
            try:
                return json.loads(to_string(args[0]))
            except ValueError as e:
                raise ExprError(f"fromJSON: {e}") from e
        if name == "hashfiles":
            return "0" * 64
        raise ExprError(f"unknown function {name}() with {len(args)} argument(s)")

    # -- helpers used by the emulator -------------------------------------------------------

    def condition(self, cond: Any) -> bool:
        """An `if:` value: true when absent; success() is implied without a status function."""
        if cond is None:
            return self.status["success"]
        if isinstance(cond, bool):
            return cond and self.status["success"]
        if isinstance(cond, (int, float)):
            return truthy(cond) and self.status["success"]
        text = str(cond).strip()
        m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
        if m and "${{" not in m.group(1):
            text = m.group(1)
        elif "${{" in text:
            return truthy(self.interpolate(text)) and self.status["success"]
        if not STATUS_FUNCTIONS.search(text):
            text = f"success() && ({text})"
        return truthy(self.eval(text))

    def interpolate(self, value: Any) -> Any:
        """`${{ }}` in strings (recursively through lists and dicts)."""
        if isinstance(value, str):
            if "${{" not in value:
                return value
            whole = re.fullmatch(r"\$\{\{(.*?)\}\}", value.strip(), re.S)
            return (
                re.sub(r"\$\{\{(.*?)\}\}", lambda m: to_string(self.eval(m.group(1))), value, flags=re.S)
                if not whole
                else to_string(self.eval(whole.group(1)))
            )
        if isinstance(value, list):
            return [self.interpolate(v) for v in value]
        if isinstance(value, dict):
            return {k: self.interpolate(v) for k, v in value.items()}
        return value
