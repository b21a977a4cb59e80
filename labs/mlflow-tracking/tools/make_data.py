"""Writes starter/data/churn.csv once (fixed seed). Run from anywhere:

    /opt/venv/bin/python3 labs/mlflow-tracking/tools/make_data.py

The generator lives in grader/churn_data.py so the hidden evaluation draws its fresh
sample from the very same code.
"""
import pathlib
import sys

LAB = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(LAB / "grader"))

from churn_data import generate  # noqa: E402

SEED = 7
ROWS = 4000

if __name__ == "__main__":
    out = LAB / "starter" / "data" / "churn.csv"
    generate(ROWS, SEED).to_csv(out, index=False)
    print(f"wrote {out}")
