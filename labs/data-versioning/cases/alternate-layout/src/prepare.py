"""Clean the raw export and split it; the settings are command-line options (see dvc.yaml)."""
import argparse
import pathlib

import pandas as pd

RAW = pathlib.Path("data/raw/churn.csv")
OUT = pathlib.Path("data/prepared")
TARGET = "churned"


def clean(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop(columns=["customer_id"])
    df["monthly_charges"] = df["monthly_charges"].fillna(df["monthly_charges"].median())
    df[TARGET] = (df[TARGET] == "yes").astype(int)
    return pd.get_dummies(df, columns=["plan", "contract"], dtype=int)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-size", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    df = clean(pd.read_csv(RAW))
    test = df.groupby(TARGET).sample(frac=args.test_size, random_state=args.seed)
    train = df.drop(test.index)
    OUT.mkdir(parents=True, exist_ok=True)
    train.to_csv(OUT / "train.csv", index=False)
    test.to_csv(OUT / "test.csv", index=False)


if __name__ == "__main__":
    main()
