import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def loans() -> pd.DataFrame:
    """A small, obviously separable loan book: risky borrowers default."""
    rng = np.random.default_rng(0)
    n = 200
    risky = rng.random(n) < 0.3
    return pd.DataFrame(
        {
            "age": rng.integers(21, 70, n),
            "annual_income": np.where(risky, 25_000, 90_000) + rng.normal(0, 5_000, n),
            "loan_amount": np.where(risky, 30_000, 8_000) + rng.normal(0, 2_000, n),
            "term_months": rng.choice([36, 60], n),
            "credit_score": np.where(risky, 560, 740) + rng.normal(0, 30, n),
            "debt_to_income": np.where(risky, 0.45, 0.15) + rng.normal(0, 0.05, n),
            "employment_years": rng.integers(0, 30, n),
            "open_accounts": rng.integers(1, 15, n),
            "late_payments_2y": np.where(risky, 3, 0),
            "home_ownership": rng.choice(["rent", "own", "mortgage"], n),
            "defaulted": risky.astype(int),
        }
    )
