"""The API's contract, as the gateway team relies on it. Train first: python train.py"""
from fastapi.testclient import TestClient

from app.main import app

CUSTOMER = {
    "tenure_months": 4,
    "monthly_charges": 89.9,
    "contract": "month-to-month",
    "payment_method": "invoice",
    "num_products": 1,
    "support_calls_90d": 3,
    "late_payments_12m": 1,
}


def test_predict_scores_a_customer():
    with TestClient(app) as client:
        response = client.post("/predict", json=CUSTOMER)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["churn"], bool)
    assert 0.0 <= body["churn_probability"] <= 1.0
