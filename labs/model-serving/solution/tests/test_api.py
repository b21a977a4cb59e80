"""The API's contract, as the gateway team relies on it. Train first: python train.py"""
import pytest
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


@pytest.fixture(scope="module")
def client():
    with TestClient(app) as c:
        yield c


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_predict_scores_a_customer(client):
    response = client.post("/predict", json=CUSTOMER)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["churn"], bool)
    assert 0.0 <= body["churn_probability"] <= 1.0
    assert body["churn"] == (body["churn_probability"] >= 0.5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenure_months", "twelve"),
        ("tenure_months", -1),
        ("monthly_charges", 0),
        ("contract", "weekly"),
        ("num_products", 0),
        ("late_payments_12m", None),
    ],
)
def test_bad_field_is_named_in_a_422(client, field, value):
    response = client.post("/predict", json={**CUSTOMER, field: value})
    assert response.status_code == 422
    assert field in response.text


def test_missing_field_is_named_in_a_422(client):
    customer = {k: v for k, v in CUSTOMER.items() if k != "contract"}
    response = client.post("/predict", json=customer)
    assert response.status_code == 422
    assert "contract" in response.text
