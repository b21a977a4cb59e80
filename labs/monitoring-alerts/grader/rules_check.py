"""Checks the alerting rules in /workspace/monitoring/alerts.yml. Runs in the grader
container; the rule file is copied to a private folder under /tmp and only ever read by
promtool.

    python3 /grader/rules_check.py valid|metadata|ChurnApiHighErrorRate|ChurnApiHighLatency|ChurnApiPredictionSkew

  valid       `promtool check rules` accepts the file and it defines the three alerts
  metadata    each alert carries its severity label and summary/description annotations
  <alert>     behaviour: `promtool test rules` with the grader's own synthetic series

Behaviour tests. Each scenario is a few minutes of traffic on two pods of the job
churn-api (1-minute samples of every series the service exposes: requests by endpoint and
status, the latency histogram, predictions by class), fed to the candidate's rules with
`promtool test rules`. Whatever the alert's expression and its labels (aggregated, per
pod, through recording rules...), it shows up in the ALERTS series, so the expectations
only ask whether `ALERTS{alertname="...", alertstate="firing"}` exists at a time, or
ever. Each expectation is its own promtool run, so a failure names its scenario.

    ChurnApiHighErrorRate (5xx share over 5m > 5%, for 5m)
      fires   10% of requests fail with a 500 from minute 5 on   -> firing at 25m
      silent  20% of requests rejected with 422, no 5xx          -> never fires
      silent  3% of requests fail with a 500                     -> never fires
      silent  one minute in which 60% fail with a 500            -> never fires (needs `for`)
    ChurnApiHighLatency (p95 of /predict over 5m > 0.5 s, for 10m)
      fires   10% of requests take 1-2.5 s, the rest < 0.1 s     -> firing at 25m
              (p95 ~ 1.7 s while the mean stays ~ 0.25 s)
      silent  98% take 0.25-0.5 s, 2% take 1-2.5 s               -> never fires
              (p95 ~ 0.49 s; a p99 would be ~ 1.8 s)
      silent  one minute in which every request takes 1-2.5 s    -> never fires (needs `for`)
    ChurnApiPredictionSkew (share of prediction="1" over 30m > 50% or < 5%, for 15m)
      fires   80% of predictions are churn                       -> not firing at 10m, firing at 45m
      fires   2% of predictions are churn                        -> firing at 45m
      silent  45% are churn                                      -> never fires
      silent  8% are churn                                       -> never fires

Exit 0 with a one-line summary on stdout, or 1 with the reason as the last line of stderr.
"""
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

RULES = Path("/workspace/monitoring/alerts.yml")
SHOWN = "monitoring/alerts.yml"
SEVERITY = {
    "ChurnApiHighErrorRate": "critical",
    "ChurnApiHighLatency": "warning",
    "ChurnApiPredictionSkew": "warning",
}
PODS = ["churn-api-0.churn-api.ml.svc:8000", "churn-api-1.churn-api.ml.svc:8000"]
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
# Where a request of each latency profile lands: (bucket upper bound, share, seconds each).
PROFILES = {
    "fast": [("0.1", 1.0, 0.07)],
    "tail": [("0.1", 0.9, 0.07), ("2.5", 0.1, 1.8)],
    "rare_slow": [("0.5", 0.98, 0.4), ("2.5", 0.02, 1.8)],
    "slow": [("2.5", 1.0, 1.8)],
}
HEALTH_PER_MINUTE = 4  # the kubelet's probes


class Fail(Exception):
    pass


# --- scenarios -------------------------------------------------------------------------


@dataclass(frozen=True)
class Minute:
    """What one pod served to /predict in one minute."""

    ok: int = 300
    client_errors: int = 3
    server_errors: int = 0
    latency: str = "fast"
    churn_share: float = 0.2


@dataclass
class Scenario:
    alert: str
    what: str
    minutes: list[Minute]
    # (kind, minute, message): kind "firing" (firing at that minute), "silent" (not firing
    # at that minute) or "never" (never fired up to the end).
    expect: list[tuple[str, int, str]] = field(default_factory=list)


def steady(n: int, m: Minute = Minute()) -> list[Minute]:
    return [m] * n


def scenarios() -> list[Scenario]:
    normal = Minute()
    e = "ChurnApiHighErrorRate"
    lat = "ChurnApiHighLatency"
    sk = "ChurnApiPredictionSkew"
    blip = steady(10) + [replace(normal, ok=120, server_errors=180)] + steady(19)
    spike = steady(10) + [replace(normal, latency="slow")] + steady(19)
    return [
        Scenario(e, "10% of requests fail with a 500 from minute 5 on", steady(5) + steady(25, replace(normal, ok=270, server_errors=30)),
                 [("firing", 25, f"{e} is not firing after 20 minutes in which 10% of requests failed with a 500")]),
        Scenario(e, "20% of requests are rejected with a 422, none fails with a 5xx", steady(30, replace(normal, ok=240, client_errors=60)),
                 [("never", 30, f"{e} fired while 20% of requests were rejected with a 422 (the client's mistake) and none failed with a 5xx")]),
        Scenario(e, "3% of requests fail with a 500", steady(30, replace(normal, ok=291, server_errors=9)),
                 [("never", 30, f"{e} fired while only 3% of requests failed with a 500 (the threshold is 5%)")]),
        Scenario(e, "a one-minute burst of 500s", blip,
                 [("never", 30, f"{e} fired on a burst of 500s that lasted one minute; it must page only when the 5xx share stays above 5% for 5 minutes")]),
        Scenario(lat, "one request in ten takes 1-2.5 s", steady(30, replace(normal, latency="tail")),
                 [("firing", 25, f"{lat} is not firing after 25 minutes in which one request to /predict in ten took over a second (p95 about 1.7 s)")]),
        Scenario(lat, "98% of requests take 0.25-0.5 s, 2% take 1-2.5 s", steady(30, replace(normal, latency="rare_slow")),
                 [("never", 30, f"{lat} fired while the p95 latency of /predict was about 0.49 s (2% of the requests took over a second)")]),
        Scenario(lat, "a one-minute latency spike", spike,
                 [("never", 30, f"{lat} fired on a latency spike that lasted one minute; it must fire only when p95 stays above 0.5 s for 10 minutes")]),
        Scenario(sk, "80% of predictions are churn", steady(60, replace(normal, churn_share=0.8)),
                 [("silent", 10, f"{sk} fired within 10 minutes of the predictions going 80% churn; it must wait until the share has been out of band for 15 minutes"),
                  ("firing", 45, f"{sk} is not firing after 45 minutes in which 80% of predictions were churn")]),
        Scenario(sk, "2% of predictions are churn", steady(60, replace(normal, churn_share=0.02)),
                 [("firing", 45, f"{sk} is not firing after 45 minutes in which only 2% of predictions were churn")]),
        Scenario(sk, "45% of predictions are churn", steady(60, replace(normal, churn_share=0.45)),
                 [("never", 60, f"{sk} fired while 45% of predictions were churn (the band is 5% to 50%)")]),
        Scenario(sk, "8% of predictions are churn", steady(60, replace(normal, churn_share=0.08)),
                 [("never", 60, f"{sk} fired while 8% of predictions were churn (the band is 5% to 50%)")]),
    ]


def cumulative(per_minute: list[float]) -> str:
    values, total = ["0"], 0.0
    for x in per_minute:
        total += x
        values.append(f"{round(total, 3):g}")
    return " ".join(values)


def series_of(minutes: list[Minute]) -> list[dict]:
    out = []

    def add(name: str, labels: dict[str, str], per_minute: list[float]) -> None:
        body = ",".join(f'{k}="{v}"' for k, v in labels.items())
        out.append({"series": f"{name}{{{body}}}", "values": cumulative(per_minute)})

    for pod in PODS:
        base = {"job": "churn-api", "instance": pod}
        predict = {**base, "endpoint": "/predict"}
        health = {**base, "endpoint": "/health"}
        add("churn_api_requests_total", {**predict, "status": "200"}, [m.ok for m in minutes])
        add("churn_api_requests_total", {**predict, "status": "422"}, [m.client_errors for m in minutes])
        add("churn_api_requests_total", {**predict, "status": "500"}, [m.server_errors for m in minutes])
        add("churn_api_requests_total", {**health, "status": "200"}, [HEALTH_PER_MINUTE] * len(minutes))

        # Answered requests by bucket: errors and probes are fast; successes follow the profile.
        per_bucket = {b: [0.0] * len(minutes) for b in BUCKETS}
        sums = [0.0] * len(minutes)
        for i, m in enumerate(minutes):
            fast = m.client_errors + m.server_errors
            per_bucket["0.05"][i] += fast
            sums[i] += fast * 0.02
            for bound, share, seconds in PROFILES[m.latency]:
                n = round(m.ok * share)
                per_bucket[bound][i] += n
                sums[i] += n * seconds
        running = [0.0] * len(minutes)
        for b in BUCKETS:
            running = [r + x for r, x in zip(running, per_bucket[b], strict=True)]
            add("churn_api_request_duration_seconds_bucket", {**predict, "le": b}, running)
        add("churn_api_request_duration_seconds_count", predict, running)
        add("churn_api_request_duration_seconds_sum", predict, sums)
        for b in BUCKETS:
            add("churn_api_request_duration_seconds_bucket", {**health, "le": b}, [0 if b in ("0.005", "0.01", "0.025") else HEALTH_PER_MINUTE] * len(minutes))
        add("churn_api_request_duration_seconds_count", health, [HEALTH_PER_MINUTE] * len(minutes))
        add("churn_api_request_duration_seconds_sum", health, [HEALTH_PER_MINUTE * 0.03] * len(minutes))

        churn = [round(m.ok * m.churn_share) for m in minutes]
        add("churn_api_predictions_total", {**base, "prediction": "1"}, churn)
        add("churn_api_predictions_total", {**base, "prediction": "0"}, [m.ok - c for m, c in zip(minutes, churn, strict=True)])
    return out


def test_file(s: Scenario, kind: str, minute: int) -> dict:
    firing = f'ALERTS{{alertname="{s.alert}", alertstate="firing"}}'
    if kind == "never":
        expr, samples = f"max(max_over_time({firing}[1d]))", []
    elif kind == "firing":
        expr, samples = f"max({firing})", [{"labels": "{}", "value": 1}]
    else:
        expr, samples = f"max({firing})", []
    return {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series_of(s.minutes),
                "promql_expr_test": [{"expr": expr, "eval_time": f"{minute}m", "exp_samples": samples}],
            }
        ],
    }


# --- the rule file ---------------------------------------------------------------------


def load_rules() -> list[dict]:
    if not RULES.is_file():
        raise Fail(f"there is no {SHOWN}")
    r = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        lines = [x.strip() for x in (r.stdout + r.stderr).splitlines() if x.strip() and not x.startswith("Checking")]
        raise Fail(f"promtool check rules {SHOWN} fails: {' '.join(lines)[:400]}")
    doc = yaml.safe_load(RULES.read_text()) or {}
    return [rule for group in doc.get("groups") or [] for rule in group.get("rules") or []]


def alerts_named(rules: list[dict], name: str) -> list[dict]:
    found = [r for r in rules if r.get("alert") == name]
    if not found:
        have = ", ".join(sorted({str(r["alert"]) for r in rules if "alert" in r})) or "none"
        raise Fail(f"{SHOWN} has no alert named {name} (alerts: {have})")
    return found


def check_valid() -> str:
    rules = load_rules()
    for name in SEVERITY:
        alerts_named(rules, name)
    recording = sum(1 for r in rules if "record" in r)
    return f"{SHOWN}: {len(rules) - recording} alerting and {recording} recording rules, promtool accepts them"


def check_metadata() -> str:
    rules = load_rules()
    for name, severity in SEVERITY.items():
        for rule in alerts_named(rules, name):
            labels = rule.get("labels") or {}
            annotations = rule.get("annotations") or {}
            if labels.get("severity") != severity:
                raise Fail(f"{name} has severity {labels.get('severity')!r}, expected {severity!r}")
            for key in ("summary", "description"):
                if not str(annotations.get(key) or "").strip():
                    raise Fail(f"{name} has no {key} annotation")
    return "every alert has its severity, a summary and a description"


def check_behaviour(alert: str) -> str:
    alerts_named(load_rules(), alert)
    mine = [s for s in scenarios() if s.alert == alert]
    with tempfile.TemporaryDirectory(prefix="rules-") as tmp:
        shutil.copyfile(RULES, Path(tmp) / "alerts.yml")
        for i, s in enumerate(mine):
            for j, (kind, minute, message) in enumerate(s.expect):
                path = Path(tmp) / f"test-{i}-{j}.yml"
                path.write_text(yaml.safe_dump(test_file(s, kind, minute), sort_keys=False, width=1_000_000))
                r = subprocess.run(["promtool", "test", "rules", path.name], cwd=tmp, capture_output=True, text=True, timeout=60)
                if r.returncode == 0:
                    continue
                out = r.stdout + r.stderr
                errors = [x.strip() for x in out.splitlines() if "err:" in x]
                if errors:
                    raise Fail(f"{message} - and promtool reports evaluation errors: {errors[0][:300]}")
                if "exp:" not in out:
                    raise Fail(f"promtool test rules could not run the scenario '{s.what}': {' '.join(out.split())[:300]}")
                raise Fail(message)
    n = sum(len(s.expect) for s in mine)
    return f"{alert}: {len(mine)} scenarios, {n} expectations met"


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) == 2 else ""
    try:
        if what == "valid":
            print(check_valid())
        elif what == "metadata":
            print(check_metadata())
        elif what in SEVERITY:
            print(check_behaviour(what))
        else:
            sys.exit(f"usage: rules_check.py valid|metadata|{'|'.join(SEVERITY)}")
    except Fail as e:
        print(str(e), file=sys.stderr)
        sys.exit(1)
