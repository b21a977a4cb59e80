"""Evaluate the trained model on the held-out 20% and write metrics.json.

python evaluate.py [--data data/loans.csv] [--model artifacts/model.joblib] [--out metrics.json]
"""

import argparse
import json
from pathlib import Path

from credit_risk import data, metrics
from credit_risk import model as model_io


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the credit-risk model.")
    parser.add_argument("--data", default="data/loans.csv")
    parser.add_argument("--model", default="artifacts/model.joblib")
    parser.add_argument("--out", default="metrics.json")
    args = parser.parse_args(argv)

    _, test = data.split(data.load(args.data))
    scores = metrics.compute(model_io.load(args.model), test)
    Path(args.out).write_text(json.dumps(scores, indent=2) + "\n")
    print(json.dumps(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
