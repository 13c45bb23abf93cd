"""Platt scaling turns a miscalibrated score into probabilities."""

import numpy as np
import pytest

from skysieve.train import PlattCalibrator, binary_log_loss


def _miscalibrated(n, seed):
    rng = np.random.default_rng(seed)
    logit_true = rng.normal(-2.0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit_true))).astype(int)
    raw = 1 / (1 + np.exp(-(3.0 * logit_true + 2.0)))  # over-confident and biased high
    return raw, y


def test_platt_improves_the_log_loss_of_a_miscalibrated_score():
    raw_fit, y_fit = _miscalibrated(4000, 0)
    raw_test, y_test = _miscalibrated(4000, 1)
    cal = PlattCalibrator().fit(raw_fit, y_fit)
    before = binary_log_loss(y_test, raw_test)
    after = binary_log_loss(y_test, cal.predict_proba(raw_test))
    assert after < 0.8 * before
    assert cal.a_ == pytest.approx(1 / 3, rel=0.15)  # undoes the factor 3 on the logit
    assert cal.b_ == pytest.approx(-2 / 3, abs=0.2)


def test_platt_is_monotonic_and_round_trips():
    raw, y = _miscalibrated(500, 2)
    cal = PlattCalibrator().fit(raw, y)
    s = np.linspace(0.01, 0.99, 50)
    assert np.all(np.diff(cal.predict_proba(s)) > 0)
    back = PlattCalibrator.from_dict(cal.to_dict())
    np.testing.assert_allclose(back.predict_proba(s), cal.predict_proba(s))


def test_platt_stays_finite_on_separable_scores():
    cal = PlattCalibrator().fit(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]))
    p = cal.predict_proba(np.array([0.0, 1.0]))
    assert np.all(np.isfinite([cal.a_, cal.b_])) and 0 < p[0] < p[1] < 1


def test_unfitted_calibrator_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        PlattCalibrator().predict_proba(np.array([0.5]))
