from fastapi.testclient import TestClient

from app.main import app

client = TestClient(app)

LOYAL = {
    "tenure_months": 72,
    "monthly_charges": 45.0,
    "contract_months": 24,
    "num_products": 4,
    "support_calls_90d": 0,
    "late_payments_12m": 0,
}
AT_RISK = {
    "tenure_months": 2,
    "monthly_charges": 110.0,
    "contract_months": 1,
    "num_products": 1,
    "support_calls_90d": 5,
    "late_payments_12m": 3,
}


def test_health():
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_predict_loyal_customer():
    r = client.post("/predict", json=LOYAL)
    assert r.status_code == 200
    body = r.json()
    assert body["prediction"] == 0
    assert 0 <= body["churn_probability"] < 0.5


def test_predict_customer_at_risk():
    r = client.post("/predict", json=AT_RISK)
    assert r.status_code == 200
    assert r.json()["prediction"] == 1


def test_predict_rejects_bad_input():
    r = client.post("/predict", json={**LOYAL, "contract_months": 6})
    assert r.status_code == 422
