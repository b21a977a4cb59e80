"""Evaluate the trained model on the held-out 20% and write metrics.json.

python evaluate.py [--data data/loans.csv] [--model artifacts/model.joblib] [--out metrics.json]
                   [--min-accuracy 0.80]

With --min-accuracy, exits 1 when the held-out accuracy is below it (the CI gate).
"""

import argparse
import json
import sys
from pathlib import Path

from credit_risk import data, metrics
from credit_risk import model as model_io


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the credit-risk model.")
    parser.add_argument("--data", default="data/loans.csv")
    parser.add_argument("--model", default="artifacts/model.joblib")
    parser.add_argument("--out", default="metrics.json")
    parser.add_argument("--min-accuracy", type=float, default=None, help="fail below this accuracy")
    args = parser.parse_args(argv)

    _, test = data.split(data.load(args.data))
    scores = metrics.compute(model_io.load(args.model), test)
    Path(args.out).write_text(json.dumps(scores, indent=2) + "\n")
    print(json.dumps(scores))
    if args.min_accuracy is not None and scores["accuracy"] < args.min_accuracy:
        print(f"FAIL: accuracy {scores['accuracy']:.4f} is below {args.min_accuracy:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
