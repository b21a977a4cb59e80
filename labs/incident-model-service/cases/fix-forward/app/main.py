"""The HTTP API: GET /health and POST /predict."""
import logging
import os
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from app import __version__
from app.features import Customer, to_matrix
from app.model import load_model
from app.settings import load_settings

logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
log = logging.getLogger("churn_api")

# Largest batch one request may score.
MAX_CUSTOMERS = 5000
STARTED = time.monotonic()


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = load_settings()
    model = load_model(settings.model_path)
    app.state.settings = settings
    app.state.model = model
    log.info(
        "churn-api %s: loaded model %s from %s (features: %s)",
        __version__, model.version, settings.model_path, ", ".join(model.features),
    )
    yield


app = FastAPI(title="churn-api", version=__version__, lifespan=lifespan)


class PredictRequest(BaseModel):
    customers: list[Customer] = Field(min_length=1)


@app.get("/health")
def health(request: Request) -> dict:
    model = request.app.state.model
    settings = request.app.state.settings
    return {
        "status": "ok",
        "service_version": __version__,
        "model_version": model.version,
        "model_path": model.path,
        "pid": os.getpid(),
        "uptime_seconds": round(time.monotonic() - STARTED, 1),
        "managed_by": settings.managed_by,
        "restarts": settings.restarts,
    }


@app.post("/predict")
def predict(body: PredictRequest, request: Request) -> dict:
    if len(body.customers) > MAX_CUSTOMERS:
        raise HTTPException(status_code=413, detail=f"at most {MAX_CUSTOMERS} customers per request")
    model = request.app.state.model
    probabilities = model.churn_probability(to_matrix(body.customers, model.features))
    return {
        "model_version": model.version,
        "predictions": [
            {"churn_probability": round(float(p), 6), "at_risk": bool(p >= model.threshold)} for p in probabilities
        ],
    }
