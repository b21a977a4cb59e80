"""Held-out metrics, as the risk committee reads them."""

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline

from credit_risk.data import FEATURES, TARGET


def compute(model: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    y_true = test[TARGET]
    y_pred = model.predict(test[FEATURES])
    y_score = model.predict_proba(test[FEATURES])[:, 1]
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "f1": round(float(f1_score(y_true, y_pred)), 4),
        "roc_auc": round(float(roc_auc_score(y_true, y_score)), 4),
        "n_test": int(len(test)),
    }
