"""Clean the raw warehouse export and split it into a training and a test set.

Reads data/raw/churn.csv; writes data/prepared/train.csv and data/prepared/test.csv.
"""
import pathlib

import pandas as pd

RAW = pathlib.Path("data/raw/churn.csv")
OUT = pathlib.Path("data/prepared")
TARGET = "churned"

TEST_SIZE = 0.2
SEED = 42


def clean(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop(columns=["customer_id"])
    df["monthly_charges"] = df["monthly_charges"].fillna(df["monthly_charges"].median())
    df[TARGET] = (df[TARGET] == "yes").astype(int)
    return pd.get_dummies(df, columns=["plan", "contract"], dtype=int)


def main() -> None:
    df = clean(pd.read_csv(RAW))
    # Stratified: the test split keeps the churn rate of the whole export.
    test = df.groupby(TARGET).sample(frac=TEST_SIZE, random_state=SEED)
    train = df.drop(test.index)
    OUT.mkdir(parents=True, exist_ok=True)
    train.to_csv(OUT / "train.csv", index=False)
    test.to_csv(OUT / "test.csv", index=False)
    print(f"prepared {len(train)} training rows and {len(test)} test rows in {OUT}/")


if __name__ == "__main__":
    main()
