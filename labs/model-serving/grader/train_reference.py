"""Train the churn model on data/churn.csv and save it to model/model.joblib.

    python train.py

The model is a scikit-learn pipeline (scaling, one-hot encoding, logistic regression)
that takes a pandas DataFrame with the columns in FEATURES and answers, per customer,
the probability of churning in the next 90 days (predict_proba(...)[:, 1]).
"""
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "churn.csv"
MODEL = ROOT / "model" / "model.joblib"

NUMERIC = ["tenure_months", "monthly_charges", "num_products", "support_calls_90d", "late_payments_12m"]
CATEGORICAL = ["contract", "payment_method"]
FEATURES = NUMERIC + CATEGORICAL
TARGET = "churned"
SEED = 42


def build_pipeline() -> Pipeline:
    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000))])


def train(df: pd.DataFrame) -> tuple[Pipeline, dict[str, float]]:
    """Fits the pipeline on 80% of the rows; returns it with its scores on the other 20%."""
    X_train, X_test, y_train, y_test = train_test_split(
        df[FEATURES], df[TARGET], test_size=0.2, random_state=SEED, stratify=df[TARGET]
    )
    model = build_pipeline().fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    scores = {
        "accuracy": accuracy_score(y_test, proba >= 0.5),
        "roc_auc": roc_auc_score(y_test, proba),
    }
    return model, scores


def main() -> None:
    model, scores = train(pd.read_csv(DATA))
    MODEL.parent.mkdir(exist_ok=True)
    joblib.dump(model, MODEL)
    print(f"accuracy {scores['accuracy']:.3f}, roc_auc {scores['roc_auc']:.3f} - saved {MODEL.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
