"""Writes starter/data/churn.csv once (fixed seed). Run from the repository root:

    docker run --rm -v "$PWD/labs/monitoring-alerts:/lab" -w /lab opslab/python-ml python tools/make_data.py

One row per customer: a few account features and `churned` (1 = cancelled within 90
days), drawn from a logistic model so that a plain logistic regression learns it well
and predicts churn for roughly one customer in five.
"""
import pathlib

import numpy as np
import pandas as pd

SEED = 11
ROWS = 2000
OUT = pathlib.Path(__file__).resolve().parent.parent / "starter" / "data" / "churn.csv"


def generate(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(1.6, 16, rows).clip(0, 120).round().astype(int)
    contract = rng.choice([1, 12, 24], rows, p=[0.5, 0.3, 0.2])
    products = rng.integers(1, 6, rows)
    charges = (20 + 14 * products + rng.normal(0, 8, rows)).clip(15, 140).round(2)
    calls = rng.poisson(1.2, rows).clip(0, 12)
    late = rng.poisson(0.6, rows).clip(0, 8)
    logit = (
        0.4
        - 0.045 * tenure
        - 0.09 * (contract - 1)
        + 0.012 * (charges - 60)
        - 0.25 * (products - 1)
        + 0.45 * calls
        + 0.55 * late
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "contract_months": contract,
            "num_products": products,
            "support_calls_90d": calls,
            "late_payments_12m": late,
            "churned": churned,
        }
    )


if __name__ == "__main__":
    df = generate(ROWS, SEED)
    df.to_csv(OUT, index=False)
    print(f"wrote {OUT}: {len(df)} rows, churn rate {df.churned.mean():.3f}")
