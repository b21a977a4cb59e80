"""Loads the candidate's model and prints its hyperparameters: the part of the params-used
check that deserializes the candidate's artifact (unpickling runs code), so it never runs
in the grader's process.

dvc_grade.py runs this file's source through /opt/opslab/untrusted.py (no /grader, no TCP,
writes only in a scratch folder), from the copy of the repository, as

    python3 -I -c <this file> models/model.joblib

and reads the last line of stdout, one JSON object:

    {"params": {"n_estimators": {"value": 13, "repr": "13"}, ...}}   get_params(deep=True);
                                       "value" only when it is a JSON number, string, bool or null
    {"error": "load", "type": "UnpicklingError", "message": "..."}   joblib.load failed
    {"error": "not-estimator"}                                       no get_params
    {"error": "get_params", "type": "...", "message": "..."}         get_params failed

Whatever the model's own code prints goes to stderr, so that the last line is this one.
"""
import json
import numbers
import os
import sys


def jsonable(value):
    """(True, a JSON value equal to `value`) for numbers, strings, booleans and None."""
    if value is None or isinstance(value, (bool, str)):
        return True, value
    if isinstance(value, numbers.Integral):
        return True, int(value)
    if isinstance(value, numbers.Real):
        return True, float(value)
    return False, None


def describe(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        entry = {"repr": repr(value)[:200]}
        ok, plain = jsonable(value)
        if ok:
            entry["value"] = plain
        out[str(key)] = entry
    return out


def main() -> dict:
    import joblib

    try:
        model = joblib.load(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - the candidate's artifact, any failure is theirs
        return {"error": "load", "type": type(e).__name__, "message": str(e)[:200]}
    if not hasattr(model, "get_params"):
        return {"error": "not-estimator"}
    try:
        params = model.get_params(deep=True)
        return {"params": describe(dict(params))}
    except Exception as e:  # noqa: BLE001
        return {"error": "get_params", "type": type(e).__name__, "message": str(e)[:200]}


if __name__ == "__main__":
    # The model's code runs in here: keep its prints off the answer's channel.
    answer = os.dup(1)
    os.dup2(2, 1)
    result = main()
    sys.stdout.flush()
    os.dup2(answer, 1)
    print("\n" + json.dumps(result), flush=True)
