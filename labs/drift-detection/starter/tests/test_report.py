"""Tests of the drift report, run the way the monitoring job runs it."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

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
