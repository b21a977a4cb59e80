"""Writes starter/data/raw/churn.csv once (fixed seed). Run from anywhere:

    /opt/venv/bin/python3 labs/data-versioning/tools/make_data.py

and records its md5 in grader/churn.csv.md5 (the grader checks the candidate versions the
export unchanged).

A raw warehouse export, on purpose a little messy (what src/prepare.py cleans up): a
customer id, two text categories, about 2% of monthly_charges missing, and the target
`churned` as yes/no. The target follows a noisy logistic model of the features, so a
random forest scores about 0.8 on it.
"""
import hashlib
import pathlib

import numpy as np
import pandas as pd

SEED = 13
ROWS = 4000
LAB = pathlib.Path(__file__).resolve().parent.parent
OUT = LAB / "starter" / "data" / "raw" / "churn.csv"
MD5 = LAB / "grader" / "churn.csv.md5"


def generate(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "standard", "premium"], n_rows, p=[0.45, 0.35, 0.2])
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n_rows, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(1, 73, n_rows)
    base = {"basic": 30.0, "standard": 60.0, "premium": 95.0}
    monthly = np.round(np.array([base[p] for p in plan]) + rng.normal(0, 8, n_rows), 2)
    calls = rng.poisson(1.2, n_rows)
    late = rng.poisson(0.6, n_rows)
    usage = np.round(rng.gamma(2.0, 8.0, n_rows), 1)
    contract_months = np.select([contract == "one-year", contract == "two-year"], [12, 24], 1)
    logit = 1.8 * (
        0.9
        - 0.04 * tenure
        + 0.02 * (monthly - 60)
        - 0.08 * contract_months
        + 0.55 * calls
        + 0.6 * late
        - 0.015 * (usage - 16)
    )
    churned = rng.random(n_rows) < 1 / (1 + np.exp(-logit))
    monthly_reported = monthly.copy()
    monthly_reported[rng.random(n_rows) < 0.02] = np.nan
    return pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in rng.permutation(n_rows)],
            "plan": plan,
            "contract": contract,
            "tenure_months": tenure,
            "monthly_charges": monthly_reported,
            "support_calls_90d": calls,
            "late_payments_12m": late,
            "data_usage_gb": usage,
            "churned": np.where(churned, "yes", "no"),
        }
    )


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    generate(ROWS, SEED).to_csv(OUT, index=False)
    MD5.write_text(hashlib.md5(OUT.read_bytes()).hexdigest() + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) and {MD5}")
