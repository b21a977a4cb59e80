"""The model: derived features, scaling, one-hot encoding and a logistic regression."""

from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from credit_risk.data import FEATURES, TARGET
from credit_risk.features import add_derived, preprocessor


def build(c: float = 1.0) -> Pipeline:
    return Pipeline(
        [
            ("derive", FunctionTransformer(add_derived)),
            ("prep", preprocessor()),
            ("clf", LogisticRegression(C=c, max_iter=1000)),
        ]
    )


def fit(train: pd.DataFrame, c: float = 1.0) -> Pipeline:
    model = build(c)
    model.fit(train[FEATURES], train[TARGET])
    return model


def save(model: Pipeline, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


def load(path: str | Path) -> Pipeline:
    return joblib.load(path)
