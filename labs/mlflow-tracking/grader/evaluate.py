"""Hidden check: the newest registered version of `churn-classifier` really scores what
its run logged. Runs in the grader container (trusted, read-only at /grader) with
MLFLOW_TRACKING_URI set by the check.

Draws a fresh sample from the same generator as data/churn.csv (another seed, never in
the workspace), feeds the feature columns as pandas reads them from a CSV to the model,
and compares its accuracy with the `accuracy` metric of the run that registered it.
Prints one JSON document; on a problem, says why on stderr and exits 1.

The model is the candidate's code (loading a pickle runs it), so it never runs here: this
script downloads the version's files and writes the sample's feature columns (not the
answers) to a scratch folder, and predict.py loads and runs the model there, confined by
/opt/opslab/untrusted.py (Landlock: writes only in that folder, /grader invisible, no TCP
- so no MLflow server - and no signals or ptrace out). The accuracy is computed here.
When the grader itself cannot confine the model (no wrapper, no Landlock), it says so and
exits 127, which the command check reports as an error of the grader, not the candidate's.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlflow  # noqa: E402
import mlflow.artifacts  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from churn_data import FEATURES, TARGET, as_read_from_csv, generate  # noqa: E402

MODEL = "churn-classifier"
HIDDEN_SEED = 20261125
HIDDEN_ROWS = 5000
MAX_GAP = 0.05
PREDICT_TIMEOUT = 120
# Mounted read-only in every grader container by the opslab server.
UNTRUSTED = "/opt/opslab/untrusted.py"
# What the wrapper exits with when it refuses to run anything (and says "untrusted.py: ...").
WRAPPER_REFUSED = 126
# What this script exits with when the grader, not the candidate, is at fault: the command
# check reports exit 127 as an error of the grader.
GRADER_FAULT = 127
PREDICT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "predict.py")


def give_up(why: str, code: int = 1) -> None:
    print(json.dumps({"error": why}))
    print(why, file=sys.stderr)
    sys.exit(code)


def grader_fault(why: str) -> None:
    give_up(f"{why} (a fault of the grader, not of the work graded)", GRADER_FAULT)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def predict_confined(scratch: str, model_dir: str, features_csv: str) -> dict:
    """predict.py's answer: the candidate's model loaded and run under the wrapper, writing
    only in `scratch`. Raises subprocess.TimeoutExpired."""
    if not os.path.isfile(UNTRUSTED):
        grader_fault(f"the grader cannot confine the candidate's model: {UNTRUSTED} is missing from the grader container")
    home = os.path.join(scratch, "home")
    tmp = os.path.join(scratch, "tmp")
    os.makedirs(home, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/opt/venv/bin:/usr/bin:/bin"), "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8"}
    with open(PREDICT) as f:
        source = f.read()
    wrap = [sys.executable, UNTRUSTED, "--rw", scratch, "--"]
    cmd = [sys.executable, "-I", "-c", source, model_dir, features_csv]
    r = subprocess.run([*wrap, *cmd], check=False, cwd=home, env=env, capture_output=True, text=True, timeout=PREDICT_TIMEOUT)
    if r.returncode == WRAPPER_REFUSED and "untrusted.py: " in r.stderr:
        # The wrapper's own refusal, or the model's code saying the same words? The wrapper,
        # run again on nothing with the same folder, tells which.
        probe = subprocess.run([*wrap, sys.executable, "-c", ""], check=False, env=env, capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            grader_fault(f"the grader could not run the candidate's model confined: {last_line(probe.stderr or probe.stdout)}")
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        return {"error": "crashed", "message": f"the process loading and running it exited {r.returncode} without an answer: {last_line(r.stderr)}"}
    return answer


def main() -> None:
    client = MlflowClient()
    versions = [v for v in client.search_model_versions(f"name='{MODEL}'") if v.status != "FAILED_REGISTRATION"]
    if not versions:
        give_up(f"no registered model `{MODEL}` with a version to evaluate")
    newest = max(versions, key=lambda v: int(v.version))
    if not newest.run_id:
        give_up(f"`{MODEL}` version {newest.version} was not registered from a run, so there is no logged accuracy to compare with")
    logged = client.get_run(newest.run_id).data.metrics.get("accuracy")
    if logged is None:
        give_up(f"the run that produced `{MODEL}` version {newest.version} logged no `accuracy` metric")

    hidden = generate(HIDDEN_ROWS, HIDDEN_SEED)
    scratch = tempfile.mkdtemp(prefix="mlflow-eval-", dir="/tmp")
    try:
        answer = download_and_predict(newest, hidden, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    error = answer.get("error")
    if error in ("load", "crashed", "timeout"):
        detail = f"{answer.get('type')}: {answer.get('message')}" if error == "load" else answer.get("message")
        give_up(f"`{MODEL}` version {newest.version} could not be loaded: {detail}")
    if error == "predict":
        give_up(
            f"`{MODEL}` version {newest.version} cannot predict from the feature columns of data/churn.csv: "
            f"{answer.get('type')}: {answer.get('message')}"
        )
    if error == "convert":
        give_up(f"`{MODEL}` version {newest.version} did not answer 0/1 predictions: {answer.get('message')}")
    predictions = answer.get("predictions")
    if error is not None or not isinstance(predictions, list) or not all(type(p) is int for p in predictions):
        give_up(f"`{MODEL}` version {newest.version} did not answer 0/1 predictions")
    predictions = np.asarray(predictions, dtype=int)
    sample = as_read_from_csv(hidden)
    if len(predictions) != len(sample):
        give_up(f"`{MODEL}` version {newest.version} returned {len(predictions)} predictions for {len(sample)} rows")
    # accuracy_score, without importing scikit-learn here (memory: the model's process runs beside this one).
    accuracy = float(np.mean(sample[TARGET].to_numpy() == predictions))
    gap = abs(accuracy - logged)
    if gap > MAX_GAP:
        print(
            f"the run logged accuracy {logged:.4f}, but `{MODEL}` version {newest.version} scores {accuracy:.4f} "
            f"on customers it never saw (gap {gap:.3f} > {MAX_GAP})",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {
                "version": int(newest.version),
                "run_id": newest.run_id,
                "hidden_accuracy": round(accuracy, 4),
                "logged_accuracy": round(float(logged), 4),
                "gap": round(gap, 4),
            }
        )
    )
    sys.exit(1 if gap > MAX_GAP else 0)


def download_and_predict(newest, hidden, scratch: str) -> dict:
    """The version's files and the feature columns of `hidden` into `scratch`, then predict.py there."""
    try:
        model_dir = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{MODEL}/{newest.version}", dst_path=os.path.join(scratch, "model")
        )
    except Exception as e:  # noqa: BLE001 - the candidate's artifact, any failure is theirs
        return {"error": "load", "type": type(e).__name__, "message": str(e)[:300]}
    # The feature columns exactly as as_read_from_csv gives them to pandas: the same CSV text.
    features_csv = os.path.join(scratch, "features.csv")
    hidden[FEATURES].to_csv(features_csv, index=False)
    try:
        return predict_confined(scratch, model_dir, features_csv)
    except subprocess.TimeoutExpired:
        return {"error": "timeout", "message": f"loading it and predicting {HIDDEN_ROWS} rows took more than {PREDICT_TIMEOUT} s"}


if __name__ == "__main__":
    main()
