"""Hidden check: /predict turns away every malformed customer the grader thinks of with a
422 that names the offending field, and keeps serving afterwards.

The brief's example customer with one field broken at a time (a value outside the
allowed set, below the minimum, of the wrong type, null), then bodies that are not a
customer at all (a JSON list, text that is not JSON: 400 or 422 both fine). Then the
example must still score (200) and /health still answer: a validation layer that took
the service down fails too.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from service import EXAMPLE, give_up, post_json, request, require_service  # noqa: E402

BROKEN_FIELDS = [
    ("contract", "weekly", "a contract outside the three allowed"),
    ("payment_method", "cash", "a payment method outside the three allowed"),
    ("tenure_months", -1, "a negative tenure"),
    ("num_products", 0, "zero products (at least 1)"),
    ("monthly_charges", -5.0, "negative monthly charges"),
    ("monthly_charges", "a lot", "monthly charges that are not a number"),
    ("support_calls_90d", None, "null support calls"),
    ("late_payments_12m", 1.5, "a fractional count of late payments"),
    ("contract", 12, "a number where the contract name goes"),
]
NOT_A_CUSTOMER = [
    (b"[]", "a JSON list"),
    (b'{"tenure_months": 4, ', "a body that is not valid JSON"),
]


def main() -> None:
    require_service()
    problems = []
    for field, value, what in BROKEN_FIELDS:
        answer = post_json("/predict", {**EXAMPLE, field: value})
        if answer.status != 422:
            problems.append(f"{what} ({field}={json.dumps(value)}) got {answer.status}, expected 422")
        elif field not in answer.text:
            problems.append(f"the 422 for {what} does not name the field {field}: {answer.text[:120]}")
    for body, what in NOT_A_CUSTOMER:
        answer = request("POST", "/predict", body)
        if answer.status not in (400, 422):
            problems.append(f"{what} got {answer.status}, expected 422 (or 400)")
    after = post_json("/predict", EXAMPLE)
    if after.status != 200:
        problems.append(f"after the bad requests, the example customer got {after.status}, expected 200")
    health = request("GET", "/health")
    if health.status != 200:
        problems.append(f"after the bad requests, GET /health answered {health.status}")
    report = {"cases": len(BROKEN_FIELDS) + len(NOT_A_CUSTOMER) + 2, "problems": problems}
    if problems:
        give_up(f"{len(problems)} problem(s): " + "; ".join(problems), report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
