"""Writes starter/data/churn.csv once (fixed seed) and keeps the grader's copy of the
training script in step with the starter's. Run from anywhere:

    /opt/venv/bin/python3 labs/model-serving/tools/make_data.py

The generator lives in grader/churn_data.py so the hidden checks train their reference
model on the very same rows. grader/train_reference.py is a verbatim copy of
starter/train.py (the grader must not import the candidate's copy, which they may edit):
this script copies it again and says so when it changed.
"""
import pathlib
import shutil
import sys

LAB = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(LAB / "grader"))

from churn_data import training_frame  # noqa: E402

if __name__ == "__main__":
    out = LAB / "starter" / "data" / "churn.csv"
    training_frame().to_csv(out, index=False)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    src, dst = LAB / "starter" / "train.py", LAB / "grader" / "train_reference.py"
    if not dst.exists() or dst.read_bytes() != src.read_bytes():
        shutil.copyfile(src, dst)
        print(f"updated {dst} from {src}")
    else:
        print(f"{dst} matches {src}")
