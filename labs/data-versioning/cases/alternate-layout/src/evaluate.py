"""Score the model on the test split into reports/metrics.yaml."""
import pathlib

import joblib
import pandas as pd
import yaml
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

TARGET = "churned"


def main() -> None:
    df = pd.read_csv("data/prepared/test.csv")
    X, y = df.drop(columns=[TARGET]), df[TARGET]
    model = joblib.load("models/model.joblib")
    predictions = model.predict(X)
    scores = {
        "accuracy": float(accuracy_score(y, predictions)),
        "f1": float(f1_score(y, predictions)),
        "roc_auc": float(roc_auc_score(y, model.predict_proba(X)[:, 1])),
    }
    out = pathlib.Path("reports/metrics.yaml")
    out.parent.mkdir(exist_ok=True)
    out.write_text(yaml.safe_dump(scores))


if __name__ == "__main__":
    main()
