"""Checks the metrics churn-api exposes, by sending the grader's own requests to the
running service and reading GET /metrics before and after. Runs in the grader container
(trusted, /grader read-only, the sandbox's network); never runs the candidate's code.

    python3 /grader/metrics_check.py exposed|lint|requests|latency|predictions

  exposed      GET /metrics answers 200 in the Prometheus text format, with churn_api_* metrics
  lint         `promtool check metrics` finds no problem in what /metrics serves
  requests     churn_api_requests_total{endpoint,status} counts each /predict answer by status
  latency      churn_api_request_duration_seconds is a histogram (0.5 s a bucket boundary)
               that times every /predict request, in seconds
  predictions  churn_api_predictions_total{prediction} counts the classes /predict returned

The traffic checks (requests, latency, predictions) each send a random mix of valid
customers (answered 200) and invalid ones (answered 422) and compare the counters' growth
with what the grader itself sent and received. They take a lock so that, when the checks
run concurrently, one check's requests never land between another's two scrapes.

Exit 0 with a one-line summary on stdout, or 1 with the reason as the last line of stderr.
"""
import fcntl
import json
import math
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

BASE = "http://127.0.0.1:8000"
LOCK = "/tmp/monitoring-alerts-traffic.lock"
REQUESTS = "churn_api_requests_total"
LATENCY = "churn_api_request_duration_seconds"
PREDICTIONS = "churn_api_predictions_total"
ENDPOINT = "/predict"
NOT_RUNNING = (
    "nothing answers on 127.0.0.1:8000 - churn-api must be running when you check your work "
    "(scripts/restart.sh starts it in the background)"
)


class Fail(Exception):
    pass


# --- HTTP ------------------------------------------------------------------------------


def http(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(BASE + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # follows redirects (a mounted /metrics/)
            return r.status, r.read(8 * 1024 * 1024)
    except urllib.error.HTTPError as e:
        return e.code, e.read(64 * 1024)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, ConnectionRefusedError) or "refused" in str(reason).lower():
            raise Fail(NOT_RUNNING) from None
        raise Fail(f"{method} {path} did not answer: {reason}") from None


def scrape_text() -> str:
    status, body = http("GET", "/metrics")
    if status != 200:
        raise Fail(f"GET /metrics answered {status}, expected 200 with the metrics in the Prometheus text format")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Fail("GET /metrics did not answer UTF-8 text") from None


class Scrape:
    """The samples of one scrape: name -> list of (labels, value), and each sample name's metric type."""

    def __init__(self, text: str):
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        self.types: dict[str, str] = {}
        try:
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    self.samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
                    self.types.setdefault(s.name, family.type)
        except Exception as e:  # noqa: BLE001 - the candidate's text; any parse error is theirs
            raise Fail(f"GET /metrics is not in the Prometheus text format: {str(e)[:200]}") from None

    def total(self, name: str, **labels: str) -> float:
        return sum(v for ls, v in self.samples.get(name, []) if all(ls.get(k) == w for k, w in labels.items()))

    def label_values(self, name: str, label: str) -> list[str]:
        return sorted({ls.get(label, "") for ls, _ in self.samples.get(name, [])})


def scrape() -> Scrape:
    return Scrape(scrape_text())


# --- the grader's traffic --------------------------------------------------------------

AT_RISK = [
    dict(tenure_months=1, monthly_charges=118.5, contract_months=1, num_products=1, support_calls_90d=6, late_payments_12m=4),
    dict(tenure_months=3, monthly_charges=96.0, contract_months=1, num_products=2, support_calls_90d=4, late_payments_12m=3),
]
LOYAL = [
    dict(tenure_months=84, monthly_charges=42.0, contract_months=24, num_products=4, support_calls_90d=0, late_payments_12m=0),
    dict(tenure_months=60, monthly_charges=55.9, contract_months=12, num_products=3, support_calls_90d=1, late_payments_12m=0),
]


def random_customer(rng: random.Random) -> dict:
    return dict(
        tenure_months=rng.randint(0, 90),
        monthly_charges=round(rng.uniform(20, 130), 2),
        contract_months=rng.choice([1, 1, 12, 24]),
        num_products=rng.randint(1, 5),
        support_calls_90d=rng.randint(0, 6),
        late_payments_12m=rng.randint(0, 4),
    )


def invalid_customer(rng: random.Random) -> dict:
    c = random_customer(rng)
    how = rng.choice(["missing", "contract", "negative", "type"])
    if how == "missing":
        del c[rng.choice(sorted(c))]
    elif how == "contract":
        c["contract_months"] = rng.choice([3, 6, 36])
    elif how == "negative":
        c["tenure_months"] = -rng.randint(1, 12)
    else:
        c["num_products"] = "several"
    return c


class Traffic:
    def __init__(self):
        self.sent_valid = 0
        self.sent_invalid = 0
        self.predictions = {"0": 0, "1": 0}
        self.seconds = 0.0


def send_traffic() -> Traffic:
    rng = random.Random()
    valid = AT_RISK + LOYAL + [random_customer(rng) for _ in range(rng.randint(6, 10))]
    invalid = [invalid_customer(rng) for _ in range(rng.randint(3, 6))]
    batch = [(c, True) for c in valid] + [(c, False) for c in invalid]
    rng.shuffle(batch)
    t = Traffic()
    started = time.perf_counter()
    for customer, ok in batch:
        status, body = http("POST", ENDPOINT, json.dumps(customer).encode())
        if ok:
            t.sent_valid += 1
            if status != 200:
                raise Fail(f"POST /predict with a valid customer answered {status}, expected 200: {body[:200]!r}")
            try:
                prediction = json.loads(body)["prediction"]
            except (ValueError, KeyError, TypeError):
                raise Fail(f"POST /predict no longer answers JSON with `prediction`: {body[:200]!r}") from None
            if prediction not in (0, 1) or isinstance(prediction, bool):
                raise Fail(f"POST /predict answered prediction {prediction!r}, expected 0 or 1")
            t.predictions[str(prediction)] += 1
        else:
            t.sent_invalid += 1
            if status != 422:
                raise Fail(f"POST /predict with an invalid customer answered {status}, expected 422")
    t.seconds = time.perf_counter() - started
    return t


def with_traffic() -> tuple[Scrape, Scrape, Traffic]:
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = scrape()
        traffic = send_traffic()
        after = scrape()
    return before, after, traffic


def sent(t: Traffic) -> str:
    return f"{t.sent_valid} valid and {t.sent_invalid} invalid POST /predict requests"


def num(x: float) -> str:
    return f"{x:g}"


# --- the checks ------------------------------------------------------------------------


def require_metric(s: Scrape, name: str, kind: str) -> None:
    if name not in s.samples:
        family = name.removesuffix("_total")
        near = sorted(n for n in s.samples if n.startswith("churn_api") or family.split("_")[-1] in n)[:5]
        raise Fail(f"GET /metrics has no {name}" + (f" (it has {', '.join(near)})" if near else ""))
    if s.types[name] != kind:
        raise Fail(f"{name} is a {s.types[name]}, not a {kind}")


def require_labels(s: Scrape, name: str, labels: list[str]) -> None:
    have = sorted({k for ls, _ in s.samples[name] for k in ls if k != "le"})
    missing = [k for k in labels if k not in have]
    if missing:
        raise Fail(f"{name} has labels [{', '.join(have)}]; it needs {' and '.join(labels)}")


def check_exposed() -> str:
    s = scrape()
    ours = sorted({n for n in s.samples if n.startswith("churn_api_")})
    if not ours:
        raise Fail("GET /metrics answers, but without any churn_api_* metric")
    return f"GET /metrics serves {len(s.samples)} sample names, {len(ours)} of them churn_api_*"


def check_lint() -> str:
    text = scrape_text()
    Scrape(text)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    problems = [line.strip() for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    if r.returncode != 0:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise Fail(f"promtool check metrics: {shown or f'exit {r.returncode}'}")
    return "promtool check metrics: no problems"


def check_requests() -> str:
    before, after, t = with_traffic()
    require_metric(after, REQUESTS, "counter")
    require_labels(after, REQUESTS, ["endpoint", "status"])
    if not any(ls.get("endpoint") == ENDPOINT for ls, _ in after.samples[REQUESTS]):
        seen = ", ".join(f'"{v}"' for v in after.label_values(REQUESTS, "endpoint"))
        raise Fail(f'after {sent(t)}, {REQUESTS} has no series with endpoint="{ENDPOINT}" (endpoint values: {seen})')
    grew = {
        code: after.total(REQUESTS, endpoint=ENDPOINT, status=code) - before.total(REQUESTS, endpoint=ENDPOINT, status=code)
        for code in ("200", "422")
    }
    want = {"200": t.sent_valid, "422": t.sent_invalid}
    if grew != want:
        statuses = ", ".join(f'"{v}"' for v in after.label_values(REQUESTS, "status"))
        raise Fail(
            f'after {sent(t)}, {REQUESTS}{{endpoint="{ENDPOINT}"}} grew by {num(grew["200"])} with status="200" '
            f'and {num(grew["422"])} with status="422" - expected {want["200"]} and {want["422"]} (status values: {statuses})'
        )
    return f"{REQUESTS} grew by {want['200']} (200) and {want['422']} (422), as sent"


def check_latency() -> str:
    before, after, t = with_traffic()
    if LATENCY + "_bucket" not in after.samples:
        for name in (LATENCY, LATENCY + "_count", LATENCY + "_sum"):
            if name in after.samples:
                raise Fail(
                    f"{LATENCY} is a {after.types[name]}, not a histogram: without _bucket series Prometheus "
                    "cannot compute a p95 across pods with histogram_quantile"
                )
        raise Fail(f"GET /metrics has no {LATENCY}_bucket (the histogram {LATENCY})")
    require_metric(after, LATENCY + "_bucket", "histogram")
    require_labels(after, LATENCY + "_bucket", ["endpoint"])
    buckets = [(ls, v) for ls, v in after.samples[LATENCY + "_bucket"] if ls.get("endpoint") == ENDPOINT]
    if not buckets:
        seen = ", ".join(f'"{v}"' for v in after.label_values(LATENCY + "_bucket", "endpoint"))
        raise Fail(f'after {sent(t)}, {LATENCY} has no series with endpoint="{ENDPOINT}" (endpoint values: {seen})')
    bounds = sorted({float(ls["le"]) for ls, _ in buckets if "le" in ls})
    if not any(math.isclose(b, 0.5) for b in bounds):
        shown = ", ".join(num(b) for b in bounds)
        raise Fail(f"{LATENCY} has buckets [{shown}]: 0.5 (the latency alert's threshold) must be a bucket boundary")
    count = after.total(LATENCY + "_count", endpoint=ENDPOINT) - before.total(LATENCY + "_count", endpoint=ENDPOINT)
    total = t.sent_valid + t.sent_invalid
    if count != total:
        raise Fail(
            f'after {sent(t)}, {LATENCY}_count{{endpoint="{ENDPOINT}"}} grew by {num(count)}, expected {total}: '
            "every request to /predict is timed, whatever its status"
        )
    seconds = after.total(LATENCY + "_sum", endpoint=ENDPOINT) - before.total(LATENCY + "_sum", endpoint=ENDPOINT)
    if not 0 < seconds <= t.seconds * 1.1 + 0.05:
        raise Fail(
            f"{LATENCY}_sum grew by {num(seconds)} for requests that took {t.seconds:.3f} s in all, as the grader "
            "measured them: observe durations in seconds"
        )
    return f"{LATENCY}: count grew by {total}, sum by {seconds:.4f} s (the grader measured {t.seconds:.3f} s)"


def check_predictions() -> str:
    before, after, t = with_traffic()
    require_metric(after, PREDICTIONS, "counter")
    require_labels(after, PREDICTIONS, ["prediction"])
    grew = {c: after.total(PREDICTIONS, prediction=c) - before.total(PREDICTIONS, prediction=c) for c in ("0", "1")}
    if grew != {c: float(n) for c, n in t.predictions.items()}:
        seen = ", ".join(f'"{v}"' for v in after.label_values(PREDICTIONS, "prediction"))
        raise Fail(
            f"/predict returned {t.predictions['0']} predictions of 0 and {t.predictions['1']} of 1 to the grader, but "
            f'{PREDICTIONS} grew by {num(grew["0"])} with prediction="0" and {num(grew["1"])} with prediction="1" '
            f"(prediction values: {seen})"
        )
    return f"{PREDICTIONS} grew by {t.predictions['0']} (0) and {t.predictions['1']} (1), as returned"


CHECKS = {
    "exposed": check_exposed,
    "lint": check_lint,
    "requests": check_requests,
    "latency": check_latency,
    "predictions": check_predictions,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: metrics_check.py {'|'.join(CHECKS)}")
    try:
        print(CHECKS[sys.argv[1]]())
    except Fail as e:
        print(str(e), file=sys.stderr)
        sys.exit(1)
