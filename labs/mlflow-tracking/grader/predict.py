"""Loads the candidate's registered model and predicts on the hidden features: the part of
the honest-model check that deserializes the candidate's artifact (loading a pickled
model runs code), so it never runs in the grader's process.

evaluate.py downloads the model version's files and writes the feature columns of its
hidden sample (never the answers) to a scratch folder, then runs this file's source through
/opt/opslab/untrusted.py (no /grader, no TCP, so no MLflow server either; writes only in
the scratch folder) as

    python3 -I -c <this file> MODEL_DIR FEATURES_CSV

and reads the last line of stdout, one JSON object:

    {"predictions": [0, 1, ...]}                            one 0/1 per row, in order
    {"error": "load", "type": "...", "message": "..."}      mlflow.pyfunc.load_model failed
    {"error": "predict", "type": "...", "message": "..."}   model.predict failed
    {"error": "convert", "message": "..."}                  the answer is not numbers

Whatever the model's own code prints goes to stderr, so that the last line is this one.
"""
import json
import os
import sys


def main() -> dict:
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    model_dir, features_csv = sys.argv[1], sys.argv[2]
    try:
        model = mlflow.pyfunc.load_model(model_dir)
    except Exception as e:  # noqa: BLE001 - the candidate's artifact, any failure is theirs
        return {"error": "load", "type": type(e).__name__, "message": str(e)[:300]}
    # The feature columns as pandas reads them from a CSV, as the model was trained on them.
    features = pd.read_csv(features_csv)
    try:
        predictions = model.predict(features)
    except Exception as e:  # noqa: BLE001
        return {"error": "predict", "type": type(e).__name__, "message": str(e)[:300]}
    try:
        predictions = np.asarray(predictions).reshape(-1).astype(float).round().astype(int)
    except (TypeError, ValueError) as e:
        return {"error": "convert", "message": str(e)[:200]}
    return {"predictions": [int(p) for p in predictions]}


if __name__ == "__main__":
    # The model's code runs in here: keep its prints off the answer's channel.
    answer = os.dup(1)
    os.dup2(2, 1)
    result = main()
    sys.stdout.flush()
    os.dup2(answer, 1)
    print("\n" + json.dumps(result), flush=True)
