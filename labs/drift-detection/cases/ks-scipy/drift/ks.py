"""Two-sample Kolmogorov-Smirnov drift test."""
from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

ALPHA = 0.05


@dataclass
class FeatureDrift:
    statistic: float
    p_value: float

    @property
    def drifted(self) -> bool:
        return self.p_value < ALPHA

    def as_dict(self) -> dict:
        return {
            "method": "ks",
            "statistic": round(self.statistic, 6),
            "p_value": float(self.p_value),
            "alpha": ALPHA,
            "drifted": self.drifted,
        }


def ks_drift(reference: np.ndarray, current: np.ndarray) -> FeatureDrift:
    reference = reference[~np.isnan(reference)]
    current = current[~np.isnan(current)]
    result = ks_2samp(reference, current)
    return FeatureDrift(statistic=float(result.statistic), p_value=float(result.pvalue))
