"""Talking to the candidate's service on 127.0.0.1:8000 from the grader (stdlib only)."""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

BASE = "http://127.0.0.1:8000"
# The brief's example customer: valid, and known to every candidate.
EXAMPLE = {
    "tenure_months": 4,
    "monthly_charges": 89.9,
    "contract": "month-to-month",
    "payment_method": "invoice",
    "num_products": 1,
    "support_calls_90d": 3,
    "late_payments_12m": 1,
}


class Answer:
    def __init__(self, status: int, text: str):
        self.status = status
        self.text = text

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def request(method: str, path: str, body: bytes | None = None, timeout: float = 5.0) -> Answer:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return Answer(r.status, r.read(1_000_000).decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.read(1_000_000).decode("utf-8", "replace"))


def post_json(path: str, doc) -> Answer:
    return request("POST", path, json.dumps(doc).encode())


def require_service() -> None:
    """Exits 1 with a clear reason when nothing answers on 127.0.0.1:8000."""
    try:
        request("GET", "/health", timeout=5.0)
    except (urllib.error.URLError, OSError) as e:
        give_up(f"nothing answers on {BASE} ({getattr(e, 'reason', e)}) - the API must be running when the work is checked")


def give_up(why: str, report: dict | None = None) -> None:
    print(json.dumps({"error": why, **(report or {})}))
    print(why, file=sys.stderr)
    sys.exit(1)
