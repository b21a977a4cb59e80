"""churn-api: scores customers for churn risk over HTTP.

Started by Sam before the re-org, never finished. Run it with:

    uvicorn app.main:app --host 127.0.0.1 --port 8000
"""
import joblib
import pandas as pd
from fastapi import FastAPI

app = FastAPI(title="churn-api")


@app.post("/predict")
def predict(payload: dict):
    # TODO: validate the input - the gateway team keeps sending half-filled requests
    model = joblib.load("model/model.joblib")
    row = pd.DataFrame([payload])
    return {"churn": int(model.predict(row)[0])}


# TODO: GET /health for the load balancer
