"""Score the trained model on the held-out test set.

Reads models/model.joblib and data/prepared/test.csv; writes accuracy, f1 and ROC AUC to
metrics.json (committed to git, so `dvc metrics diff` compares them across commits).
Run by `dvc repro` (stage evaluate).
"""
import json
import pathlib

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

TEST = pathlib.Path("data/prepared/test.csv")
MODEL = pathlib.Path("models/model.joblib")
METRICS = pathlib.Path("metrics.json")
TARGET = "churned"


def main() -> None:
    df = pd.read_csv(TEST)
    X, y = df.drop(columns=[TARGET]), df[TARGET]
    model = joblib.load(MODEL)
    predictions = model.predict(X)
    scores = {
        "accuracy": round(accuracy_score(y, predictions), 4),
        "f1": round(f1_score(y, predictions), 4),
        "roc_auc": round(roc_auc_score(y, model.predict_proba(X)[:, 1]), 4),
    }
    METRICS.write_text(json.dumps(scores, indent=2) + "\n")
    for name, value in scores.items():
        print(f"{name}: {value:.4f}")


if __name__ == "__main__":
    main()
