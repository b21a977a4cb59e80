"""Loads a model published in the model store.

A published version is a folder such as /srv/models/churn/v3/ holding
  model.joblib    the fitted scikit-learn pipeline
  metadata.json   version, status, feature order, decision threshold, validation scores
  golden.json     example inputs with the answers recorded at publication (`churn-api smoke`)
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from app.features import FIELDS


@dataclass
class LoadedModel:
    estimator: Any
    version: str
    threshold: float
    path: str
    metadata: dict
    features: list[str]

    def churn_probability(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(x)[:, 1]


def check_features(features: list[str]) -> list[str]:
    unknown = [f for f in features if f not in FIELDS]
    if unknown or len(set(features)) != len(features) or not features:
        raise ValueError(f"the model's features {features} do not match the request fields {FIELDS}")
    return list(features)


def load_model(path: str) -> LoadedModel:
    metadata = json.loads((Path(path).parent / "metadata.json").read_text())
    if metadata.get("status", "published") != "published":
        raise ValueError(f"model {metadata.get('version')} is {metadata.get('status')}, not published")
    features = check_features(metadata["features"])
    estimator = joblib.load(path)
    n = getattr(estimator, "n_features_in_", len(features))
    if n != len(features):
        raise ValueError(f"{path} expects {n} features, its metadata lists {len(features)}")
    return LoadedModel(
        estimator=estimator,
        version=metadata["version"],
        threshold=float(metadata.get("threshold", 0.5)),
        path=path,
        metadata=metadata,
        features=features,
    )
