import json

import pytest

from credit_risk import metrics
from credit_risk import model as model_io
from credit_risk.data import split


def test_model_learns_a_separable_book(loans):
    train, test = split(loans)
    model = model_io.fit(train)
    scores = metrics.compute(model, test)
    assert scores["accuracy"] >= 0.95
    assert 0 <= scores["f1"] <= 1
    assert scores["n_test"] == len(test)


def test_save_and_load_round_trip(loans, tmp_path):
    train, test = split(loans)
    model = model_io.fit(train)
    path = tmp_path / "nested" / "model.joblib"
    model_io.save(model, path)
    again = model_io.load(path)
    assert (again.predict(test) == model.predict(test)).all()


def test_metrics_are_json_serialisable(loans):
    train, test = split(loans)
    scores = metrics.compute(model_io.fit(train), test)
    assert json.loads(json.dumps(scores)) == scores


@pytest.mark.parametrize("c", [0.1, 10.0])
def test_regularisation_is_passed_through(loans, c):
    train, _ = split(loans)
    assert model_io.fit(train, c=c).named_steps["clf"].C == c
