"""Weekly drift report for the inputs of the default-risk model.

Compares a reference sample (the data the model was trained on) with the inputs the
model scored in production, feature by feature, and writes a JSON report:

    python -m drift.report --reference data/reference.csv --current data/current.csv \
        --output reports/drift_report.json
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Compare production inputs with the training data, feature by feature.")
    parser.add_argument("--reference", required=True, help="CSV of the training-time sample")
    parser.add_argument("--current", required=True, help="CSV of the recent production inputs")
    parser.add_argument("--output", required=True, help="where to write the JSON report")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # TODO: compare every feature of args.current with args.reference and write the report.
    print(f"drift report: not implemented yet (would compare {args.current} with {args.reference})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
