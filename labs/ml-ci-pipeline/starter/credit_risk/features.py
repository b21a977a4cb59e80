"""Feature engineering shared by training and scoring."""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from credit_risk.data import CATEGORICAL, NUMERIC

DERIVED = ["loan_to_income", "log_income"]


def add_derived(df: pd.DataFrame) -> pd.DataFrame:
    """Ratios the underwriters look at first. Returns a new frame."""
    out = df.copy()
    out["loan_to_income"] = out["loan_amount"] / out["annual_income"].clip(lower=1)
    out["log_income"] = np.log1p(out["annual_income"].clip(lower=0))
    return out


def preprocessor() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC + DERIVED),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
