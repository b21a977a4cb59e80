"""Batch scoring, the image's entry point: CSV of applications in, CSV of scores out.

python -m credit_risk.predict applications.csv > scores.csv
"""

import argparse
import os
import sys

import pandas as pd

from credit_risk import model as model_io
from credit_risk.data import FEATURES

DEFAULT_MODEL = "artifacts/model.joblib"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("applications", help="CSV with the feature columns")
    parser.add_argument("--model", default=os.environ.get("MODEL_PATH", DEFAULT_MODEL))
    args = parser.parse_args(argv)

    model = model_io.load(args.model)
    df = pd.read_csv(args.applications)
    out = pd.DataFrame({"default_probability": model.predict_proba(df[FEATURES])[:, 1].round(4)})
    if "application_id" in df.columns:
        out.insert(0, "application_id", df["application_id"])
    out.to_csv(sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
