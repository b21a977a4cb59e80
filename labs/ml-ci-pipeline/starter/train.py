"""Train the credit-risk model on 80% of the loan book and save it.

python train.py [--data data/loans.csv] [--model artifacts/model.joblib] [--c 1.0]
"""

import argparse

from credit_risk import data
from credit_risk import model as model_io


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the credit-risk model.")
    parser.add_argument("--data", default="data/loans.csv")
    parser.add_argument("--model", default="artifacts/model.joblib", help="where to save it")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args(argv)

    train, _ = data.split(data.load(args.data))
    model = model_io.fit(train, c=args.c)
    model_io.save(model, args.model)
    print(f"trained on {len(train)} loans, saved {args.model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
