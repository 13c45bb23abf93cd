"""Platt scaling turns a miscalibrated score into probabilities; temperature scaling softens a softmax."""

import keras
import numpy as np
import pytest

from skysieve.train import PlattCalibrator, bake_temperature, binary_log_loss, fit_temperature, temper


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


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temper_is_a_softmax_of_the_logits_over_t():
    z = np.random.default_rng(0).normal(0, 2, (50, 5))
    for t in (0.5, 1.0, 3.0):
        assert np.allclose(temper(_softmax(z), t), _softmax(z / t), atol=1e-12)


def test_fit_temperature_recovers_the_overconfidence_of_a_sharpened_softmax():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.5, (4000, 5))
    votes = _softmax(z)  # the soft targets
    for t_true in (0.5, 2.0):  # a net under- (0.5) or over-confident (2.0) by this factor
        p = _softmax(z * t_true)
        assert fit_temperature(p, votes) == pytest.approx(t_true, rel=1e-3)
    # on one-hot labels drawn from the votes the fit is noisy but lands near the truth too
    labels = np.eye(5)[[rng.choice(5, p=v) for v in votes]]
    assert fit_temperature(_softmax(z * 2.0), labels) == pytest.approx(2.0, rel=0.1)


def test_baking_the_temperature_into_the_output_layer_gives_the_tempered_probabilities():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    model = keras.Model(inp, keras.layers.Dense(4, activation="softmax")(keras.layers.Dense(8, activation="relu")(inp)))
    x = np.random.default_rng(2).normal(size=(20, 6)).astype("float32")
    before = model.predict(x, verbose=0).astype(np.float64)
    bake_temperature(model, 2.5)
    assert np.allclose(model.predict(x, verbose=0), temper(before, 2.5), atol=1e-5)
    relu_out = keras.Model(inp, keras.layers.Dense(4, activation="relu")(inp))
    with pytest.raises(ValueError, match="not a softmax Dense layer"):
        bake_temperature(relu_out, 2.0)
