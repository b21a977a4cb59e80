import numpy as np

from drift.ks import ks_drift


def test_shift_is_detected():
    rng = np.random.default_rng(0)
    assert ks_drift(rng.normal(0, 1, 3000), rng.normal(0.5, 1, 1000)).drifted


def test_same_sample_is_not_drift():
    x = np.random.default_rng(1).normal(0, 1, 3000)
    result = ks_drift(x, x.copy())
    assert not result.drifted
    assert result.statistic == 0.0
