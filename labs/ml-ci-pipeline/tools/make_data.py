"""Writes the lab's loan books once (fixed seeds). Run in the python-ml image, from the lab:

    docker run --rm -v "$PWD":/lab -w /lab --entrypoint python opslab/python-ml tools/make_data.py

- starter/data/loans.csv: the committed loan book (the starter's model scores ~0.9 on it).
- grader/loans_pass.csv / grader/loans_fail.csv: the same book with a share of the labels
  flipped, so that the starter's model scores just above / well below the 0.80 bar on the
  held-out 20%. The grader swaps one in for data/loans.csv when it runs the workflow.
Prints the accuracy of the starter's model on each (the numbers quoted in the grader).
"""

import pathlib
import sys

import numpy as np
import pandas as pd

LAB = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(LAB / "starter"))

from credit_risk import data, metrics  # noqa: E402
from credit_risk import model as model_io  # noqa: E402

ROWS = 1500
SEED = 11
# Shares of flipped labels, tuned for ~0.83 and ~0.73 held-out accuracy.
PASS_SHARE = 0.09
FAIL_SHARE = 0.24


def generate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 71, n)
    income = np.round(np.exp(rng.normal(10.9, 0.45, n)), -2)
    loan = np.round(np.clip(rng.lognormal(9.3, 0.6, n), 1000, 60000), -2)
    term = rng.choice([36, 60], n, p=[0.6, 0.4])
    score = np.clip(rng.normal(690, 60, n), 350, 850).round()
    dti = np.clip(rng.normal(0.28, 0.1, n), 0.01, 0.75).round(3)
    employment = np.clip(rng.exponential(6, n), 0, 40).round(1)
    accounts = rng.poisson(6, n) + 1
    late = rng.poisson(np.clip((720 - score) / 60, 0.1, None))
    home = rng.choice(["rent", "mortgage", "own"], n, p=[0.45, 0.4, 0.15])
    logit = (
        -2.8
        - 0.07 * (score - 690)
        + 18.0 * (dti - 0.28)
        + 4.5 * (loan / income - 0.2)
        + 0.8 * late
        + 1.2 * (term == 60)
        - 0.12 * employment
        + 0.8 * (home == "rent")
    )
    defaulted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "application_id": [f"A{100000 + i}" for i in range(n)],
            "age": age,
            "annual_income": income,
            "loan_amount": loan,
            "term_months": term,
            "credit_score": score.astype(int),
            "debt_to_income": dti,
            "employment_years": employment,
            "open_accounts": accounts,
            "late_payments_2y": late,
            "home_ownership": home,
            "defaulted": defaulted,
        }
    )


def flipped(df: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    out = df.copy()
    flip = np.random.default_rng(seed).random(len(out)) < share
    out.loc[flip, "defaulted"] = 1 - out.loc[flip, "defaulted"]
    return out


def accuracy(df: pd.DataFrame) -> dict:
    train, test = data.split(df)
    return metrics.compute(model_io.fit(train), test)


if __name__ == "__main__":
    book = generate(ROWS, SEED)
    print("default rate", round(book["defaulted"].mean(), 3))
    outputs = {
        LAB / "starter" / "data" / "loans.csv": book,
        LAB / "grader" / "loans_pass.csv": flipped(book, PASS_SHARE, 101),
        LAB / "grader" / "loans_fail.csv": flipped(book, FAIL_SHARE, 202),
    }
    for path, df in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)
        print(path.relative_to(LAB), accuracy(df))
