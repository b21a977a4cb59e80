"""churn-api. MODEL_PATH (default model/model.joblib) is the model train.py saved."""
import os
from pathlib import Path

import joblib
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.schemas import Customer, Verdict

MODEL_PATH = Path(os.environ.get("MODEL_PATH", Path(__file__).resolve().parents[1] / "model" / "model.joblib"))
MODEL = joblib.load(MODEL_PATH)
COLUMNS = list(MODEL.feature_names_in_)

app = FastAPI(title="churn-api")


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {"field": ".".join(str(p) for p in err["loc"] if p != "body") or "body", "problem": err["msg"]}
        for err in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"error": "invalid customer", "problems": problems})


@app.get("/health")
async def health() -> dict:
    return {"status": "ok", "model": MODEL_PATH.name}


@app.post("/predict", response_model=Verdict)
def predict(customer: Customer) -> Verdict:
    frame = pd.DataFrame([customer.model_dump(mode="json")])[COLUMNS]
    p = MODEL.predict_proba(frame)[0][list(MODEL.classes_).index(1)]
    return Verdict(churn=bool(p >= 0.5), churn_probability=float(p), model=MODEL_PATH.name)
