"""Writes the lab's data once, with fixed seeds, and proves the drift in it is unambiguous.

    /opt/venv/bin/python3 labs/drift-detection/tools/make_data.py   # or in the python-ml image

Loan applications as the credit-risk model sees them: eight numeric features, independent
of one another, so a feature drifts only when its own distribution was changed here.

- starter/data/reference.csv   4000 rows, the training-time sample
- starter/data/current.csv     2000 rows, last week: `age` and `loan_amount` drifted
  (a new partner channel brings younger applicants who borrow less)
- grader/data/reference.csv    4000 rows, another training sample (hidden)
- grader/data/week_drift.csv   2500 rows, drift in `debt_to_income` only (hidden)
- grader/data/week_stable.csv  2500 rows, no drift at all (hidden)
- grader/data/starter_sha256.json  so the grader can tell that data/ is untouched

Every sensible method must reach the same verdicts on these files, so the seeds were
picked (and are re-verified below) such that
- a drifted feature has PSI >= 0.3 under every common binning (10 or 20 quantile bins,
  10 equal-width bins) and a KS p-value below 1e-10;
- a feature that did not drift has PSI <= 0.05 under the same binnings, a normalised
  Wasserstein distance <= 0.08, and p >= 0.15 for KS, Mann-Whitney, Anderson-Darling,
  chi-square on deciles and Welch's t-test: no false alarm at alpha = 0.05, even with
  eight features tested without a multiple-testing correction.
"""

import hashlib
import json
import pathlib
import sys
import warnings

import numpy as np
import pandas as pd
from scipy import stats

LAB = pathlib.Path(__file__).resolve().parent.parent

FEATURES = [
    "age",
    "annual_income",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "num_open_accounts",
    "credit_utilization",
]

# (path, rows, seed, drifted features, the reference it is compared with)
STARTER_REFERENCE = (LAB / "starter/data/reference.csv", 4000, 2024, ())
STARTER_CURRENT = (LAB / "starter/data/current.csv", 2000, 2025, ("age", "loan_amount"))
HIDDEN_REFERENCE = (LAB / "grader/data/reference.csv", 4000, 9001, ())
HIDDEN_DRIFT = (LAB / "grader/data/week_drift.csv", 2500, 9105, ("debt_to_income",))
HIDDEN_STABLE = (LAB / "grader/data/week_stable.csv", 2500, 9201, ())


def generate(n: int, seed: int, drift=()) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = set(drift)
    age = rng.normal(34, 10, n) if "age" in d else rng.normal(42, 12, n)
    age = np.clip(np.round(age), 21, 75).astype(int)
    income = np.round(rng.lognormal(np.log(55000), 0.45, n), -2).astype(int)
    loan = rng.lognormal(np.log(7000) if "loan_amount" in d else np.log(12000), 0.6, n)
    loan = (np.round(np.clip(loan, 1000, 50000) / 50) * 50).astype(int)
    term = rng.choice([12, 24, 36, 48, 60], n, p=[0.1, 0.2, 0.35, 0.15, 0.2])
    score = np.clip(np.round(rng.normal(690, 55, n)), 300, 850).astype(int)
    a, b = (3.5, 5.5) if "debt_to_income" in d else (2.5, 6.0)
    dti = np.round(rng.beta(a, b, n), 3)
    accounts = rng.poisson(6, n)
    utilization = np.round(rng.beta(2, 3.5, n), 3)
    return pd.DataFrame(
        {
            "age": age,
            "annual_income": income,
            "loan_amount": loan,
            "loan_term_months": term,
            "credit_score": score,
            "debt_to_income": dti,
            "num_open_accounts": accounts,
            "credit_utilization": utilization,
        }
    )


def _psi(ref_counts, cur_counts, eps=1e-4):
    r = np.clip(ref_counts / ref_counts.sum(), eps, None)
    c = np.clip(cur_counts / cur_counts.sum(), eps, None)
    return float(np.sum((c - r) * np.log(c / r)))


def _psi_edges(ref, cur, edges):
    edges = np.asarray(edges, float)
    edges[0], edges[-1] = -np.inf, np.inf
    return _psi(np.histogram(ref, edges)[0].astype(float), np.histogram(cur, edges)[0].astype(float))


def measures(ref: np.ndarray, cur: np.ndarray) -> dict:
    q10 = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))
    q20 = np.unique(np.quantile(ref, np.linspace(0, 1, 21)))
    width10 = np.linspace(ref.min(), ref.max(), 11)
    rc, cc = np.histogram(ref, np.r_[-np.inf, q10[1:-1], np.inf])[0], np.histogram(cur, np.r_[-np.inf, q10[1:-1], np.inf])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad = stats.anderson_ksamp([ref, cur]).pvalue
    return {
        "psi": [_psi_edges(ref, cur, q10), _psi_edges(ref, cur, q20), _psi_edges(ref, cur, width10)],
        "wasserstein_norm": stats.wasserstein_distance(ref, cur) / ref.std(),
        "ks_p": stats.ks_2samp(ref, cur).pvalue,
        "p": [
            stats.ks_2samp(ref, cur).pvalue,
            stats.mannwhitneyu(ref, cur).pvalue,
            ad,
            stats.chi2_contingency(np.array([rc, cc]))[1],
            stats.ttest_ind(ref, cur, equal_var=False).pvalue,
        ],
    }


def verify(reference: pd.DataFrame, current: pd.DataFrame, drifted, name: str) -> None:
    for f in FEATURES:
        m = measures(reference[f].to_numpy(float), current[f].to_numpy(float))
        if f in drifted:
            ok = min(m["psi"]) >= 0.3 and m["ks_p"] < 1e-10
        else:
            ok = max(m["psi"]) <= 0.05 and m["wasserstein_norm"] <= 0.08 and min(m["p"]) >= 0.15
        print(
            f"{name:12s} {f:20s} {'DRIFT' if f in drifted else '-':5s} psi={max(m['psi']):.4f} ks_p={m['ks_p']:.3g} min_p={min(m['p']):.3g} {'ok' if ok else 'NOT OK'}"
        )
        if not ok:
            sys.exit(f"{name}: {f} does not give every method the same verdict; pick another seed")


def write(spec) -> pd.DataFrame:
    path, rows, seed, drift = spec
    df = generate(rows, seed, drift)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return pd.read_csv(path)


if __name__ == "__main__":
    ref = write(STARTER_REFERENCE)
    verify(ref, write(STARTER_CURRENT), STARTER_CURRENT[3], "starter")
    href = write(HIDDEN_REFERENCE)
    verify(href, write(HIDDEN_DRIFT), HIDDEN_DRIFT[3], "week_drift")
    verify(href, write(HIDDEN_STABLE), HIDDEN_STABLE[3], "week_stable")
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (STARTER_REFERENCE[0], STARTER_CURRENT[0])}
    (LAB / "grader/data/starter_sha256.json").write_text(json.dumps(sums, indent=2) + "\n")
    print("wrote the data and grader/data/starter_sha256.json")
