"""Clean the raw warehouse export and split it into a training and a test set.

Reads data/raw/churn.csv and params.yaml (seed, prepare.test_size); writes
data/prepared/train.csv and data/prepared/test.csv. Run by `dvc repro` (stage prepare).
"""
import pathlib

import pandas as pd
import yaml

RAW = pathlib.Path("data/raw/churn.csv")
OUT = pathlib.Path("data/prepared")
TARGET = "churned"


def clean(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop(columns=["customer_id"])
    df["monthly_charges"] = df["monthly_charges"].fillna(df["monthly_charges"].median())
    df[TARGET] = (df[TARGET] == "yes").astype(int)
    return pd.get_dummies(df, columns=["plan", "contract"], dtype=int)


def main() -> None:
    params = yaml.safe_load(pathlib.Path("params.yaml").read_text())
    df = clean(pd.read_csv(RAW))
    # Stratified: the test split keeps the churn rate of the whole export.
    test = df.groupby(TARGET).sample(frac=params["prepare"]["test_size"], random_state=params["seed"])
    train = df.drop(test.index)
    OUT.mkdir(parents=True, exist_ok=True)
    train.to_csv(OUT / "train.csv", index=False)
    test.to_csv(OUT / "test.csv", index=False)
    print(f"prepared {len(train)} training rows and {len(test)} test rows in {OUT}/")


if __name__ == "__main__":
    main()
