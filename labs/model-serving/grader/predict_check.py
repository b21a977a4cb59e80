"""Hidden check: /predict answers with the model train.py makes, for customers the
candidate has never seen.

Trains the reference model exactly as the starter's train.py does (grader/train_reference.py
is a verbatim copy) on the very rows of data/churn.csv (regenerated from the seed, never
read from the workspace), draws fresh customers from the same generator with another
seed, sends each to the running service and compares `churn_probability` (within 0.01:
rounding is fine) and `churn` (probability >= 0.5; customers within 0.01 of the
threshold are not judged on it). A service that answers a constant, mixes up the
features or returns the probability of the other class fails.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from churn_data import FEATURES, as_read_from_csv, generate, training_frame  # noqa: E402
from service import give_up, post_json, require_service  # noqa: E402
import train_reference  # noqa: E402

HIDDEN_SEED = 20261127
CUSTOMERS = 40
TOLERANCE = 0.01


def as_json(row) -> dict:
    out = {}
    for name in FEATURES:
        v = row[name]
        out[name] = v.item() if isinstance(v, np.generic) else v
    return out


def main() -> None:
    require_service()
    model, _ = train_reference.train(training_frame())
    customers = as_read_from_csv(generate(CUSTOMERS, HIDDEN_SEED))[FEATURES]
    expected = model.predict_proba(customers)[:, 1]

    got, wrong, wrong_class = [], [], []
    for i, (_, row) in enumerate(customers.iterrows()):
        body = as_json(row)
        answer = post_json("/predict", body)
        doc = answer.json()
        if answer.status != 200 or not isinstance(doc, dict):
            give_up(f"POST /predict answered {answer.status} for a valid customer {json.dumps(body)}: {answer.text[:200]}")
        p, churn = doc.get("churn_probability"), doc.get("churn")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            give_up(f"POST /predict answered churn_probability={p!r} for {json.dumps(body)}; expected a number in [0, 1]")
        if churn not in (True, False, 0, 1):
            give_up(f"POST /predict answered churn={churn!r} for {json.dumps(body)}; expected true or false")
        got.append(float(p))
        if abs(p - expected[i]) > TOLERANCE:
            wrong.append(i)
        elif abs(expected[i] - 0.5) >= TOLERANCE and bool(churn) != (expected[i] >= 0.5):
            wrong_class.append(i)

    report = {
        "customers": CUSTOMERS,
        "probability_mismatches": len(wrong),
        "class_mismatches": len(wrong_class),
        "max_abs_error": round(float(np.max(np.abs(np.array(got) - expected))), 4),
    }
    if wrong:
        i = wrong[0]
        hint = ""
        if len({round(g, 6) for g in got}) == 1:
            hint = " - the service gives every customer the same answer"
        elif np.allclose(np.array(got), 1 - expected, atol=TOLERANCE):
            hint = " - it answers the probability of NOT churning (predict_proba[:, 0])"
        give_up(
            f"{len(wrong)} of {CUSTOMERS} unseen customers get a churn_probability that is not the model's: "
            f"for {json.dumps(as_json(customers.iloc[i]))} the service says {got[i]:.4f}, "
            f"the model from train.py {expected[i]:.4f}{hint}",
            report,
        )
    if wrong_class:
        i = wrong_class[0]
        give_up(
            f"{len(wrong_class)} of {CUSTOMERS} customers get `churn` that does not follow churn_probability >= 0.5 "
            f"(e.g. probability {got[i]:.4f})",
            report,
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
