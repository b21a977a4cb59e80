"""Weekly drift report for the inputs of the default-risk model.

Compares a reference sample (the data the model was trained on) with the inputs the
model scored in production, feature by feature, and writes a JSON report:

    python -m drift.report --reference data/reference.csv --current data/current.csv \
        --output reports/drift_report.json

Method: Population Stability Index per feature, over 10 bins cut at the deciles of the
reference (outer bins open-ended, so current values outside the reference range still
count). A feature has drifted when PSI >= 0.2, the usual "significant shift" convention
(< 0.1 stable, 0.1-0.2 moderate).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BINS = 10
PSI_THRESHOLD = 0.2
# Floor for empty bins, so that log(0) never happens.
EPSILON = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    """Population Stability Index of `current` against `reference`."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    # Features with few distinct values (loan_term_months) give repeated quantiles:
    # np.unique merges them, and the outer edges are opened to catch everything.
    edges = np.concatenate([[-np.inf], edges[1:-1], [np.inf]])
    ref_share = np.histogram(reference, edges)[0] / len(reference)
    cur_share = np.histogram(current, edges)[0] / len(current)
    ref_share = np.clip(ref_share, EPSILON, None)
    cur_share = np.clip(cur_share, EPSILON, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def build_report(reference: pd.DataFrame, current: pd.DataFrame) -> dict:
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise ValueError(f"the current data lacks the column(s) {', '.join(missing)}")
    features = {}
    drifted_features = []
    for name in reference.columns:
        ref = pd.to_numeric(reference[name], errors="raise").dropna().to_numpy(float)
        cur = pd.to_numeric(current[name], errors="raise").dropna().to_numpy(float)
        if len(ref) == 0 or len(cur) == 0:
            raise ValueError(f"{name}: no values to compare")
        value = psi(ref, cur)
        drifted = value >= PSI_THRESHOLD
        features[name] = {"method": "psi", "statistic": round(value, 6), "threshold": PSI_THRESHOLD, "drifted": drifted}
        if drifted:
            drifted_features.append(name)
    return {
        "drift_detected": bool(drifted_features),
        "drifted_features": drifted_features,
        "features": features,
        "rows": {"reference": len(reference), "current": len(current)},
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Compare production inputs with the training data, feature by feature.")
    parser.add_argument("--reference", required=True, help="CSV of the training-time sample")
    parser.add_argument("--current", required=True, help="CSV of the recent production inputs")
    parser.add_argument("--output", required=True, help="where to write the JSON report")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        report = build_report(pd.read_csv(args.reference), pd.read_csv(args.current))
    except (OSError, ValueError) as e:
        print(f"drift report: {e}", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    verdict = ", ".join(report["drifted_features"]) if report["drift_detected"] else "none"
    print(f"drifted features: {verdict} (report: {output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
