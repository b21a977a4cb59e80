"""The churn model: a logistic regression trained on data/churn.csv when the service starts.

Training takes well under a second on this data, so the service always serves a model
built from the committed data with a fixed seed.
"""
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

DATA = Path(__file__).resolve().parent.parent / "data" / "churn.csv"
TARGET = "churned"
FEATURES = [
    "tenure_months",
    "monthly_charges",
    "contract_months",
    "num_products",
    "support_calls_90d",
    "late_payments_12m",
]
SEED = 42
MODEL_VERSION = "1.4.0"


def train() -> Pipeline:
    df = pd.read_csv(DATA)
    model = make_pipeline(StandardScaler(), LogisticRegression(random_state=SEED))
    model.fit(df[FEATURES], df[TARGET])
    return model
