"""Train the churn model on the prepared training set.

Reads data/prepared/train.csv; writes models/model.joblib.
"""
import pathlib

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

TRAIN = pathlib.Path("data/prepared/train.csv")
MODEL = pathlib.Path("models/model.joblib")
TARGET = "churned"

N_ESTIMATORS = 100
MAX_DEPTH = 6
SEED = 42


def main() -> None:
    df = pd.read_csv(TRAIN)
    X, y = df.drop(columns=[TARGET]), df[TARGET]
    model = RandomForestClassifier(n_estimators=N_ESTIMATORS, max_depth=MAX_DEPTH, random_state=SEED)
    model.fit(X, y)
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL)
    print(f"trained a random forest ({N_ESTIMATORS} trees, max depth {MAX_DEPTH}) on {len(df)} rows -> {MODEL}")


if __name__ == "__main__":
    main()
