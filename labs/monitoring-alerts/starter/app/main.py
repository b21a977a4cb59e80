"""churn-api: scores a customer's risk of cancelling in the next 90 days.

    uvicorn app.main:app --host 127.0.0.1 --port 8000
"""
from typing import Literal

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel, Field

from app.model import FEATURES, MODEL_VERSION, train

# Customers at or above this probability go on the retention team's call list.
THRESHOLD = 0.5

app = FastAPI(title="churn-api", version=MODEL_VERSION)
model = train()


class Customer(BaseModel):
    tenure_months: int = Field(ge=0, le=600)
    monthly_charges: float = Field(ge=0, le=10_000)
    contract_months: Literal[1, 12, 24]
    num_products: int = Field(ge=1, le=20)
    support_calls_90d: int = Field(ge=0, le=1_000)
    late_payments_12m: int = Field(ge=0, le=100)


class Prediction(BaseModel):
    churn_probability: float
    prediction: Literal[0, 1]  # 1 = likely to churn
    model_version: str


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "model_version": MODEL_VERSION}


@app.post("/predict")
def predict(customer: Customer) -> Prediction:
    row = pd.DataFrame([customer.model_dump()], columns=FEATURES)
    probability = float(model.predict_proba(row)[0, 1])
    return Prediction(
        churn_probability=round(probability, 4),
        prediction=1 if probability >= THRESHOLD else 0,
        model_version=MODEL_VERSION,
    )
