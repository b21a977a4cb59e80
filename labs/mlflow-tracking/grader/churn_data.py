"""The churn data generator: one copy, used by tools/make_data.py (the starter's
data/churn.csv, seed 7) and by the hidden evaluation (a fresh sample, another seed).

Numeric feature columns and a 0/1 target `churned`; the target depends on the features
through a noisy logistic model, so a random forest scores about 0.8 on it.
"""
import io

import numpy as np
import pandas as pd

FEATURES = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "contract_months",
    "num_products",
    "support_calls_90d",
    "late_payments_12m",
    "data_usage_gb",
    "age",
]
TARGET = "churned"


def generate(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, n_rows)
    contract = rng.choice([1, 12, 24], n_rows, p=[0.5, 0.3, 0.2])
    monthly = np.round(rng.uniform(20, 120, n_rows), 2)
    total = np.round(tenure * monthly * rng.uniform(0.9, 1.1, n_rows), 2)
    products = rng.integers(1, 6, n_rows)
    calls = rng.poisson(1.2, n_rows)
    late = rng.poisson(0.6, n_rows)
    usage = np.round(rng.gamma(2.0, 8.0, n_rows), 1)
    age = rng.integers(18, 81, n_rows)
    logit = 1.8 * (
        1.2
        - 0.045 * tenure
        + 0.025 * (monthly - 70)
        - 0.07 * contract
        - 0.25 * (products - 3)
        + 0.55 * calls
        + 0.6 * late
        - 0.01 * (usage - 16)
        - 0.01 * (age - 45)
    )
    churned = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "contract_months": contract,
            "num_products": products,
            "support_calls_90d": calls,
            "late_payments_12m": late,
            "data_usage_gb": usage,
            "age": age,
            TARGET: churned,
        }
    )


def as_read_from_csv(df: pd.DataFrame) -> pd.DataFrame:
    """The frame exactly as pandas reads it back from a CSV (same dtypes as training)."""
    return pd.read_csv(io.StringIO(df.to_csv(index=False)))
