import numpy as np

from credit_risk.data import FEATURES, TARGET, load, split
from credit_risk.features import DERIVED, add_derived


def test_add_derived_adds_ratios_without_touching_input(loans):
    out = add_derived(loans)
    assert set(DERIVED) <= set(out.columns)
    assert "loan_to_income" not in loans.columns
    expected = loans["loan_amount"] / loans["annual_income"]
    np.testing.assert_allclose(out["loan_to_income"], expected)


def test_add_derived_survives_zero_income(loans):
    loans.loc[0, "annual_income"] = 0
    out = add_derived(loans)
    assert np.isfinite(out.loc[0, "loan_to_income"])
    assert out.loc[0, "log_income"] == 0


def test_split_is_stable_and_stratified(loans):
    train_a, test_a = split(loans)
    train_b, test_b = split(loans)
    assert list(test_a.index) == list(test_b.index)
    assert len(test_a) == len(loans) // 5
    assert abs(test_a[TARGET].mean() - train_a[TARGET].mean()) < 0.05


def test_committed_loan_book_has_every_column():
    df = load("data/loans.csv")
    assert set(FEATURES + [TARGET]) <= set(df.columns)
    assert df[TARGET].isin([0, 1]).all()
    assert len(df) > 1000
    assert not df[FEATURES].isna().any().any()
