"""churn-api: scores customers for churn risk over HTTP.

    uvicorn app.main:app --host 127.0.0.1 --port 8000
"""
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import joblib
import pandas as pd
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

MODEL_PATH = Path(__file__).resolve().parent.parent / "model" / "model.joblib"
# The columns the pipeline was trained on (train.py's FEATURES), in that order.
FEATURES = ["tenure_months", "monthly_charges", "num_products", "support_calls_90d", "late_payments_12m", "contract", "payment_method"]


class Customer(BaseModel):
    tenure_months: int = Field(ge=0)
    monthly_charges: float = Field(gt=0)
    contract: Literal["month-to-month", "one-year", "two-year"]
    payment_method: Literal["card", "bank-transfer", "invoice"]
    num_products: int = Field(ge=1)
    support_calls_90d: int = Field(ge=0)
    late_payments_12m: int = Field(ge=0)


class Prediction(BaseModel):
    churn: bool
    churn_probability: float


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Load once at start: a missing model fails the start, not every request.
    app.state.model = joblib.load(MODEL_PATH)
    yield


app = FastAPI(title="churn-api", lifespan=lifespan)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(customer: Customer, request: Request) -> Prediction:
    row = pd.DataFrame([customer.model_dump()], columns=FEATURES)
    probability = float(request.app.state.model.predict_proba(row)[0, 1])
    return Prediction(churn=probability >= 0.5, churn_probability=round(probability, 4))
