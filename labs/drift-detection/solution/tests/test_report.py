"""Tests of the drift report, run the way the monitoring job runs it."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from drift.report import psi

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"


def run_report(reference: Path, current: Path, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "drift.report", "--reference", str(reference), "--current", str(current), "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_same_data_has_no_drift(tmp_path):
    output = tmp_path / "report.json"
    result = run_report(DATA / "reference.csv", DATA / "reference.csv", output)
    assert result.returncode == 0, result.stderr

    report = json.loads(output.read_text())
    assert report["drift_detected"] is False
    assert report["drifted_features"] == []
    assert sorted(report["features"]) == sorted(pd.read_csv(DATA / "reference.csv").columns)


def test_shifted_feature_is_the_only_one_flagged(tmp_path):
    reference = pd.read_csv(DATA / "reference.csv")
    current = reference.sample(2000, random_state=1).reset_index(drop=True)
    current["credit_score"] -= 60  # about one standard deviation
    current.to_csv(tmp_path / "current.csv", index=False)

    output = tmp_path / "report.json"
    result = run_report(DATA / "reference.csv", tmp_path / "current.csv", output)
    assert result.returncode == 0, result.stderr

    report = json.loads(output.read_text())
    assert report["drift_detected"] is True
    assert report["drifted_features"] == ["credit_score"]
    assert report["features"]["credit_score"]["drifted"] is True
    assert report["features"]["credit_score"]["statistic"] > report["features"]["age"]["statistic"]


def test_psi_handles_values_outside_the_reference_and_empty_bins():
    reference = np.repeat([12.0, 24.0, 36.0], 100)
    assert psi(reference, reference) == 0.0
    value = psi(reference, np.full(50, 60.0))
    assert np.isfinite(value) and value > 1
