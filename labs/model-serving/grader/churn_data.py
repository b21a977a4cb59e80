"""The customer data generator: one copy, used by tools/make_data.py (the starter's
data/churn.csv, seed 7) and by the hidden checks (the reference model is trained on the
very same rows; the customers the service is asked about come from another seed).

Seven features - five numeric, two categorical - and a 0/1 target `churned` that depends
on them through a noisy logistic model (a logistic regression scores about 0.75 on it).
"""
import io

import numpy as np
import pandas as pd

NUMERIC = ["tenure_months", "monthly_charges", "num_products", "support_calls_90d", "late_payments_12m"]
CATEGORICAL = ["contract", "payment_method"]
FEATURES = ["tenure_months", "monthly_charges", "contract", "payment_method", "num_products", "support_calls_90d", "late_payments_12m"]
TARGET = "churned"

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENT_METHODS = ["card", "bank-transfer", "invoice"]

TRAIN_SEED = 7
TRAIN_ROWS = 3000


def generate(n_rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, n_rows)
    monthly = np.round(rng.uniform(15, 120, n_rows), 2)
    contract = rng.choice(CONTRACTS, n_rows, p=[0.55, 0.25, 0.20])
    payment = rng.choice(PAYMENT_METHODS, n_rows, p=[0.45, 0.35, 0.20])
    products = rng.integers(1, 6, n_rows)
    calls = rng.poisson(1.2, n_rows)
    late = rng.poisson(0.5, n_rows)
    contract_effect = np.select([contract == "month-to-month", contract == "one-year"], [0.8, -0.4], -1.2)
    payment_effect = np.select([payment == "invoice", payment == "bank-transfer"], [0.5, -0.3], 0.0)
    logit = (
        0.3
        - 0.04 * tenure
        + 0.02 * (monthly - 70)
        + contract_effect
        + payment_effect
        - 0.3 * (products - 3)
        + 0.5 * calls
        + 0.6 * late
    )
    churned = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "contract": contract,
            "payment_method": payment,
            "num_products": products,
            "support_calls_90d": calls,
            "late_payments_12m": late,
            TARGET: churned,
        }
    )


def as_read_from_csv(df: pd.DataFrame) -> pd.DataFrame:
    """The frame exactly as pandas reads it back from a CSV (same dtypes as training)."""
    return pd.read_csv(io.StringIO(df.to_csv(index=False)))


def training_frame() -> pd.DataFrame:
    """data/churn.csv as the starter commits it."""
    return as_read_from_csv(generate(TRAIN_ROWS, TRAIN_SEED))
