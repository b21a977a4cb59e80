"""Weekly drift report: a two-sample KS test per feature (drift when p < 0.05).

    python -m drift.report --reference data/reference.csv --current data/current.csv \
        --output reports/drift_report.json
"""
import argparse
import datetime as dt
import json
import sys

import pandas as pd

from drift.ks import ks_drift


def compare(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    features = {
        column: ks_drift(reference[column].to_numpy(dtype=float), current[column].to_numpy(dtype=float)).as_dict()
        for column in reference.columns
    }
    drifted = sorted(name for name, result in features.items() if result["drifted"])
    return {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "drift_detected": len(drifted) > 0,
        "drifted_features": drifted,
        "features": features,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--current", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)

    reference = pd.read_csv(args.reference)
    current = pd.read_csv(args.current)
    if set(reference.columns) - set(current.columns):
        print(f"columns missing from {args.current}: {sorted(set(reference.columns) - set(current.columns))}", file=sys.stderr)
        return 2
    report = compare(reference, current)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    for name in report["drifted_features"]:
        print(f"DRIFT {name}: KS={report['features'][name]['statistic']:.3f} p={report['features'][name]['p_value']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
