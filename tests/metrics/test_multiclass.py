"""Probability-vector metrics against scikit-learn and direct computation."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score, mean_squared_error

from skysieve.metrics.multiclass import (
    bootstrap_interval,
    expected_calibration_error,
    map_confusion_matrix,
    probability_rmse_loss,
    reliability_curve,
    threshold_curve,
)


@pytest.fixture
def yp():
    rng = np.random.default_rng(0)
    y = rng.dirichlet(np.ones(5) * 0.5, size=300)
    p = 0.6 * y + 0.4 * rng.dirichlet(np.ones(5), size=300)
    return y, p


def test_rmse_is_sklearn_root_mean_squared_error_over_all_entries(yp):
    y, p = yp
    assert probability_rmse_loss(y, p) == pytest.approx(np.sqrt(mean_squared_error(y.ravel(), p.ravel())))
    with pytest.raises(ValueError, match="shape"):
        probability_rmse_loss(y, p[:, :4])


def test_map_confusion_is_sklearn_confusion_matrix_of_the_argmaxes(yp):
    y, p = yp
    cm = map_confusion_matrix(y, p)
    assert np.array_equal(cm, confusion_matrix(y.argmax(1), p.argmax(1), labels=range(5)))
    confident = map_confusion_matrix(y, p, min_vote=0.75)
    keep = y.max(1) >= 0.75
    assert confident.sum() == keep.sum()
    assert np.array_equal(confident, confusion_matrix(y[keep].argmax(1), p[keep].argmax(1), labels=range(5)))


def test_threshold_curve_matches_sklearn_on_the_retained_rows(yp):
    y, p = yp
    curve = threshold_curve(y, p, np.array([0.0, 0.5, 0.99]))
    assert curve["retained"][0] == 1.0
    keep = p.max(1) >= 0.5
    assert curve["n"][1] == keep.sum()
    assert curve["accuracy"][1] == pytest.approx(np.mean(y[keep].argmax(1) == p[keep].argmax(1)))
    assert curve["macro_f1"][1] == pytest.approx(f1_score(y[keep].argmax(1), p[keep].argmax(1), average="macro"))
    assert np.isnan(curve["accuracy"][2]) or curve["n"][2] > 0


def test_ece_is_zero_for_a_perfectly_calibrated_hard_classifier_and_matches_a_direct_sum(yp):
    y = np.eye(5)[np.arange(100) % 5]
    assert expected_calibration_error(y, y) == 0.0
    soft, p = yp
    y = np.eye(5)[soft.argmax(1)]  # hard labels: the accuracy is the usual hit rate
    curve = reliability_curve(y, p, n_bins=10)
    conf, hit = p.max(1), (p.argmax(1) == y.argmax(1))
    direct = sum(abs(hit[m].mean() - conf[m].mean()) * m.sum() / len(y)
                 for m in ((conf > lo) & (conf <= hi) | ((lo == 0) & (conf == 0))
                           for lo, hi in zip(curve.edges[:-1], curve.edges[1:])) if m.any())
    assert expected_calibration_error(y, p) == pytest.approx(direct)
    assert curve.count.sum() == len(y)


def test_a_model_predicting_the_expected_votes_is_calibrated_against_the_votes():
    # five annotators vote from a known probability vector per image; the ideal model predicts that vector
    rng = np.random.default_rng(3)
    truth = rng.dirichlet(np.ones(5) * 0.7, size=20000)
    votes = np.array([rng.multinomial(5, t) for t in truth]) / 5.0
    assert expected_calibration_error(votes, truth) < 0.01  # sampling noise only
    # scored by whether the votes' argmax agrees (the hard-label rule), the same ideal model looked
    # badly calibrated: split votes put their argmax on the top class more often than its probability
    conf, hit = truth.max(1), (truth.argmax(1) == votes.argmax(1))
    assert abs(hit.mean() - conf.mean()) > 0.05
    # and an over-confident model (sharpened probabilities) is caught
    sharp = truth ** 3 / (truth ** 3).sum(axis=1, keepdims=True)
    assert expected_calibration_error(votes, sharp) > 0.1


def test_bootstrap_interval_brackets_the_value_and_narrows_with_n():
    rng = np.random.default_rng(2)
    a = rng.normal(size=2000)
    v, lo, hi = bootstrap_interval(np.mean, a, n_boot=300, seed=1)
    assert lo < v < hi
    assert hi - lo == pytest.approx(2 * 1.96 / np.sqrt(2000), rel=0.2)
    _, lo2, hi2 = bootstrap_interval(np.mean, a[:200], n_boot=300, seed=1)
    assert hi2 - lo2 > 2 * (hi - lo)
