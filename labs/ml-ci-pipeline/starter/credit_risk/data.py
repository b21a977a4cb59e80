"""Loading the loan book export and splitting it the same way every time."""

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

TARGET = "defaulted"
NUMERIC = [
    "age",
    "annual_income",
    "loan_amount",
    "term_months",
    "credit_score",
    "debt_to_income",
    "employment_years",
    "open_accounts",
    "late_payments_2y",
]
CATEGORICAL = ["home_ownership"]
FEATURES = NUMERIC + CATEGORICAL

TEST_SIZE = 0.2
SEED = 42


def load(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    missing = [c for c in FEATURES + [TARGET] if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return df


def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held-out 20% is the same rows on every machine (fixed seed, stratified)."""
    train, test = train_test_split(df, test_size=TEST_SIZE, random_state=SEED, stratify=df[TARGET])
    return train, test
