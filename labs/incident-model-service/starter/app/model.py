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


@dataclass
class LoadedModel:
    estimator: Any
    version: str
    threshold: float
    path: str
    metadata: dict

    def churn_probability(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(x)[:, 1]


def load_model(path: str) -> LoadedModel:
    estimator = joblib.load(path)
    metadata = json.loads((Path(path).parent / "metadata.json").read_text())
    return LoadedModel(
        estimator=estimator,
        version=metadata["version"],
        threshold=float(metadata.get("threshold", 0.5)),
        path=path,
        metadata=metadata,
    )
