"""Hidden check: the newest registered version of `churn-classifier` really scores what
its run logged. Runs in the grader container (trusted, read-only at /grader) with
MLFLOW_TRACKING_URI set by the check.

Draws a fresh sample from the same generator as data/churn.csv (another seed, never in
the workspace), feeds the feature columns as pandas reads them from a CSV to the model,
and compares its accuracy with the `accuracy` metric of the run that registered it.
Prints one JSON document; on a problem, says why on stderr and exits 1.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402

from churn_data import FEATURES, TARGET, as_read_from_csv, generate  # noqa: E402

MODEL = "churn-classifier"
HIDDEN_SEED = 20261125
HIDDEN_ROWS = 5000
MAX_GAP = 0.05


def give_up(why: str) -> None:
    print(json.dumps({"error": why}))
    print(why, file=sys.stderr)
    sys.exit(1)


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

    try:
        model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{newest.version}")
    except Exception as e:  # noqa: BLE001 - the candidate's artifact, any failure is theirs
        give_up(f"`{MODEL}` version {newest.version} could not be loaded: {type(e).__name__}: {str(e)[:300]}")

    sample = as_read_from_csv(generate(HIDDEN_ROWS, HIDDEN_SEED))
    try:
        predictions = model.predict(sample[FEATURES])
    except Exception as e:  # noqa: BLE001
        give_up(
            f"`{MODEL}` version {newest.version} cannot predict from the feature columns of data/churn.csv: "
            f"{type(e).__name__}: {str(e)[:300]}"
        )
    try:
        predictions = np.asarray(predictions).reshape(-1).astype(float).round().astype(int)
    except (TypeError, ValueError) as e:
        give_up(f"`{MODEL}` version {newest.version} did not answer 0/1 predictions: {str(e)[:200]}")
    if len(predictions) != len(sample):
        give_up(f"`{MODEL}` version {newest.version} returned {len(predictions)} predictions for {len(sample)} rows")
    accuracy = accuracy_score(sample[TARGET], predictions)
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


if __name__ == "__main__":
    main()
