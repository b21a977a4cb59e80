"""Train the churn model on the prepared training set.

Reads data/prepared/train.csv and params.yaml (seed, train.*); writes models/model.joblib.
Run by `dvc repro` (stage train).
"""
import pathlib

import joblib
import pandas as pd
import yaml
from sklearn.ensemble import RandomForestClassifier

TRAIN = pathlib.Path("data/prepared/train.csv")
MODEL = pathlib.Path("models/model.joblib")
TARGET = "churned"


def main() -> None:
    params = yaml.safe_load(pathlib.Path("params.yaml").read_text())
    hyper = params["train"]
    df = pd.read_csv(TRAIN)
    X, y = df.drop(columns=[TARGET]), df[TARGET]
    model = RandomForestClassifier(
        n_estimators=hyper["n_estimators"], max_depth=hyper["max_depth"], random_state=params["seed"]
    )
    model.fit(X, y)
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL)
    print(f"trained a random forest ({hyper['n_estimators']} trees, max depth {hyper['max_depth']}) on {len(df)} rows -> {MODEL}")


if __name__ == "__main__":
    main()
