"""API tests with a stub model (no model store needed): run `python -m pytest -q`."""
import numpy as np
import pytest
from fastapi.testclient import TestClient

import app.main
from app.features import FIELDS, Customer, to_matrix
from app.model import LoadedModel, check_features

CUSTOMER = {
    "tenure_months": 3,
    "monthly_charges": 89.9,
    "support_calls_90d": 4,
    "days_since_last_login": 21,
    "contract_months": 1,
    "num_products": 1,
}


class StubEstimator:
    """churn probability = share of the row's sum taken by the first column."""

    def predict_proba(self, x):
        p = x[:, 0] / x.sum(axis=1)
        return np.column_stack([1 - p, p])


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("MODEL_PATH", "/models/stub/model.joblib")
    monkeypatch.setattr(
        app.main,
        "load_model",
        lambda path: LoadedModel(StubEstimator(), "stub", 0.5, path, {"version": "stub"}, list(FIELDS)),
    )
    with TestClient(app.main.app) as c:
        yield c


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["model_version"] == "stub"


def test_predict_one_answer_per_customer(client):
    r = client.post("/predict", json={"customers": [CUSTOMER, CUSTOMER]})
    assert r.status_code == 200
    assert len(r.json()["predictions"]) == 2
    assert set(r.json()["predictions"][0]) == {"churn_probability", "at_risk"}


def test_predict_rejects_a_missing_feature(client):
    incomplete = {k: v for k, v in CUSTOMER.items() if k != "num_products"}
    assert client.post("/predict", json={"customers": [incomplete]}).status_code == 422


def test_predict_rejects_an_empty_batch(client):
    assert client.post("/predict", json={"customers": []}).status_code == 422


def test_to_matrix_follows_the_model_order():
    order = sorted(FIELDS)
    row = to_matrix([Customer(**CUSTOMER)], order)[0]
    assert list(row) == [float(CUSTOMER[name]) for name in order]


def test_unknown_model_feature_is_refused():
    with pytest.raises(ValueError):
        check_features(FIELDS[:-1] + ["shoe_size"])
