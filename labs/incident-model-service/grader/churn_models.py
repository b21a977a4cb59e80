"""The churn model store of this lab: synthetic customers, the published models v2 and v3,
and the rejected v4. One source for both sides:

  - the setup step "publish the churn models" runs this file (a copy of it, inlined in
    lab.yaml by tools/sync_setup.py) as root: `python3 - /srv/models/churn`;
  - the grader imports it to rebuild v3 (the model production served before release
    2.4.0) and to draw its own hidden customers.

Training is deterministic (fixed seeds, lbfgs), so the same image gives the same models.
"""
import json
import sys
from pathlib import Path

import numpy as np

# Column order the published models were trained with (v2 and v3).
FEATURES = ["tenure_months", "monthly_charges", "support_calls_90d", "days_since_last_login", "contract_months", "num_products"]
# v4 was trained on the feature store's export, whose columns are in alphabetical order.
FEATURES_V4 = sorted(FEATURES)

RECIPES = {
    # version: (customers, data seed, label seed, C, published_at, trained_on)
    "v2": (1500, 2002, 2102, 0.05, "2025-05-12T09:20:00Z", "customers 2025-Q1"),
    "v3": (4000, 3003, 3103, 1.0, "2025-09-02T10:14:00Z", "customers 2025-Q2"),
}
THRESHOLD = 0.5


def make_customers(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    cols = {
        "tenure_months": rng.integers(1, 73, n),
        "monthly_charges": np.round(rng.uniform(19.0, 119.0, n), 2),
        "support_calls_90d": rng.poisson(1.3, n),
        "days_since_last_login": rng.integers(0, 61, n),
        "contract_months": rng.choice([1, 12, 24], n, p=[0.5, 0.3, 0.2]),
        "num_products": rng.integers(1, 5, n),
    }
    return [{k: (float(v[i]) if k == "monthly_charges" else int(v[i])) for k, v in cols.items()} for i in range(n)]


def matrix(customers: list[dict], features: list[str] = FEATURES) -> np.ndarray:
    return np.array([[c[f] for f in features] for c in customers], dtype=float)


def churn_labels(customers: list[dict], seed: int) -> np.ndarray:
    x = matrix(customers)
    logit = (
        -0.6 - 0.05 * x[:, 0] + 0.02 * x[:, 1] + 0.55 * x[:, 2] + 0.04 * x[:, 3] - 0.07 * x[:, 4] - 0.3 * x[:, 5]
    )
    rng = np.random.default_rng(seed)
    return (rng.random(len(customers)) < 1 / (1 + np.exp(-logit))).astype(int)


def train(version: str):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n, data_seed, label_seed, c, _, _ = RECIPES[version]
    customers = make_customers(n, data_seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
    model.fit(matrix(customers), churn_labels(customers, label_seed))
    return model


def churn_probability(model, customers: list[dict]) -> list[float]:
    return [float(p) for p in model.predict_proba(matrix(customers))[:, 1]]


def auc(model, version: str) -> float:
    from sklearn.metrics import roc_auc_score

    _, data_seed, label_seed, _, _, _ = RECIPES[version]
    holdout = make_customers(2000, data_seed + 50)
    return round(float(roc_auc_score(churn_labels(holdout, label_seed + 50), churn_probability(model, holdout))), 4)


def publish(root: Path) -> None:
    import joblib

    for version, (n, _, _, c, published_at, trained_on) in RECIPES.items():
        d = root / version
        d.mkdir(parents=True, exist_ok=True)
        model = train(version)
        joblib.dump(model, d / "model.joblib")
        meta = {
            "name": "churn",
            "version": version,
            "status": "published",
            "published_at": published_at,
            "trained_on": f"{trained_on} ({n} rows)",
            "estimator": "StandardScaler + LogisticRegression(C=%g)" % c,
            "features": FEATURES,
            "threshold": THRESHOLD,
            "validation": {"auc": auc(model, version), "min_auc": 0.75, "passed": True},
            "artifact": "model.joblib",
        }
        (d / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
        golden = make_customers(20, 9000 + int(version[1:]))
        (d / "golden.json").write_text(
            json.dumps(
                {
                    "about": "Golden examples recorded at publication: inputs and the churn_probability this model returns.",
                    "model_version": version,
                    "customers": golden,
                    "churn_probability": [round(p, 6) for p in churn_probability(model, golden)],
                },
                indent=1,
            )
            + "\n"
        )
    v4 = root / "v4"
    v4.mkdir(parents=True, exist_ok=True)
    (v4 / "metadata.json").write_text(
        json.dumps(
            {
                "name": "churn",
                "version": "v4",
                "status": "rejected",
                "trained_on": "customers 2025-Q3 from the feature store (5200 rows)",
                "estimator": "StandardScaler + LogisticRegression(C=1)",
                "features": FEATURES_V4,
                "threshold": THRESHOLD,
                "validation": {"auc": 0.6912, "min_auc": 0.75, "passed": False},
                "artifact": None,
                "note": "Failed the validation gate (AUC below 0.75): the artifact was not published. Investigate the label join of the Q3 export before retrying.",
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    publish(Path(sys.argv[1] if len(sys.argv) > 1 else "/srv/models/churn"))
