"""churn-api: scores customers for churn risk over HTTP.

    uvicorn app.main:app --host 127.0.0.1 --port 8000
"""
from pathlib import Path

import joblib
import pandas as pd
from fastapi import FastAPI

MODEL_PATH = Path(__file__).resolve().parent.parent / "model" / "model.joblib"
model = joblib.load(MODEL_PATH)

app = FastAPI(title="churn-api")


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict(payload: dict):
    probability = float(model.predict_proba(pd.DataFrame([payload]))[0, 1])
    return {"churn": probability >= 0.5, "churn_probability": round(probability, 4)}
