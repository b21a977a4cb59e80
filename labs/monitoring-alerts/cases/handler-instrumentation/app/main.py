"""churn-api: scores a customer's risk of cancelling in the next 90 days.

    uvicorn app.main:app --host 127.0.0.1 --port 8000

Prometheus scrapes GET /metrics: requests by endpoint and status, their latency, and the
predictions served by class.
"""
import functools
import time
from typing import Literal

import pandas as pd
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field

from app.model import FEATURES, MODEL_VERSION, train

# Customers at or above this probability go on the retention team's call list.
THRESHOLD = 0.5

REQUESTS = Counter(
    "churn_api_requests_total",
    "HTTP requests answered by churn-api, by route and status code.",
    ["endpoint", "status"],
)
LATENCY = Histogram(
    "churn_api_request_duration_seconds",
    "Time churn-api took to answer an HTTP request, by route.",
    ["endpoint"],
    # 0.5 s is the latency alert's threshold: keep it a bucket boundary.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PREDICTIONS = Counter(
    "churn_api_predictions_total",
    "Predictions served by /predict, by predicted class (1 = likely to churn).",
    ["prediction"],
)
# Both classes exist from the start, so a ratio of them is defined before the first churner.
for label in ("0", "1"):
    PREDICTIONS.labels(prediction=label)

app = FastAPI(title="churn-api", version=MODEL_VERSION)
model = train()


def instrumented(endpoint: str):
    """Counts and times each call of the handler it decorates."""

    def wrap(handler):
        @functools.wraps(handler)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            status = "500"
            try:
                result = handler(*args, **kwargs)
                status = "200"
                return result
            finally:
                LATENCY.labels(endpoint=endpoint).observe(time.perf_counter() - start)
                REQUESTS.labels(endpoint=endpoint, status=status).inc()

        return timed

    return wrap


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
@instrumented("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "model_version": MODEL_VERSION}


@app.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@app.post("/predict")
@instrumented("/predict")
def predict(customer: Customer) -> Prediction:
    row = pd.DataFrame([customer.model_dump()], columns=FEATURES)
    probability = float(model.predict_proba(row)[0, 1])
    prediction = 1 if probability >= THRESHOLD else 0
    PREDICTIONS.labels(prediction=str(prediction)).inc()
    return Prediction(
        churn_probability=round(probability, 4),
        prediction=prediction,
        model_version=MODEL_VERSION,
    )
