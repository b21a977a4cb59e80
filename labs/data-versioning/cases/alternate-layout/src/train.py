"""Train the churn model; the settings are command-line options (see dvc.yaml)."""
import argparse
import pathlib

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

TARGET = "churned"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, required=True)
    parser.add_argument("--max-depth", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    df = pd.read_csv("data/prepared/train.csv")
    model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.seed)
    model.fit(df.drop(columns=[TARGET]), df[TARGET])
    pathlib.Path("models").mkdir(exist_ok=True)
    joblib.dump(model, "models/model.joblib")


if __name__ == "__main__":
    main()
