"""Score the trained model on the held-out test set.

Reads models/model.joblib and data/prepared/test.csv; prints accuracy, f1 and ROC AUC.
"""
import pathlib

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

TEST = pathlib.Path("data/prepared/test.csv")
MODEL = pathlib.Path("models/model.joblib")
TARGET = "churned"


def main() -> None:
    df = pd.read_csv(TEST)
    X, y = df.drop(columns=[TARGET]), df[TARGET]
    model = joblib.load(MODEL)
    predictions = model.predict(X)
    scores = {
        "accuracy": accuracy_score(y, predictions),
        "f1": f1_score(y, predictions),
        "roc_auc": roc_auc_score(y, model.predict_proba(X)[:, 1]),
    }
    for name, value in scores.items():
        print(f"{name}: {value:.4f}")


if __name__ == "__main__":
    main()
