"""Bootstrap intervals against a brute-force resample-by-resample computation with scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as skm

from skysieve.errors import DataError
from skysieve.metrics import (
    bootstrap_distribution,
    bootstrap_indices,
    bootstrap_metrics,
    f1_score,
    intervals_as_dict,
    paired_bootstrap_difference,
    roc_auc_score,
)


def _sample(n: int = 300, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.15
    s = np.round(rng.normal(size=n) + 1.5 * y, 1)  # rounded: ties between scores, as real SNRs have
    return y, s


def _sk(name: str, y: np.ndarray, pred: np.ndarray) -> float:
    fn = {"purity": skm.precision_score, "completeness": skm.recall_score, "f1": skm.f1_score,
          "accuracy": skm.accuracy_score}
    if name in fn:
        kw = {} if name == "accuracy" else {"zero_division": 0}
        return float(fn[name](y, pred, **kw))
    return float(skm.roc_auc_score(y, pred) if name == "roc_auc" else skm.average_precision_score(y, pred))


def test_resamples_keep_class_counts_and_depend_on_seed_only():
    y, _ = _sample()
    idx = bootstrap_indices(y, n_boot=300, seed=3)
    assert idx.shape == (300, y.size)
    assert (y[idx].sum(axis=1) == y.sum()).all()  # stratified: every resample has the split's positives
    np.testing.assert_array_equal(idx, bootstrap_indices(y, n_boot=300, seed=3))
    assert not np.array_equal(idx, bootstrap_indices(y, n_boot=300, seed=4))
    free = bootstrap_indices(y, n_boot=300, seed=3, stratify=False)
    assert len(np.unique(y[free].sum(axis=1))) > 1  # unstratified: the positive count varies


@pytest.mark.parametrize("stratify", [True, False])
def test_every_resample_equals_sklearn_on_the_resampled_arrays(stratify):
    y, s = _sample(n=120)
    d = s >= 1.0
    dist = bootstrap_distribution(y, scores=s, decisions=d, n_boot=40, seed=7, stratify=stratify)
    idx = bootstrap_indices(y, n_boot=40, seed=7, stratify=stratify)
    for name, values in dist.items():
        pred = s if name in ("roc_auc", "pr_auc") else d
        brute = np.array([_sk(name, y[i], pred[i]) for i in idx])
        np.testing.assert_allclose(values, brute, rtol=1e-12, atol=1e-12, err_msg=name)


def test_interval_holds_the_split_value_and_the_counts():
    y, s = _sample()
    d = s >= 1.0
    iv = bootstrap_metrics(y, scores=s, decisions=d, n_boot=500, seed=0)
    assert set(iv) == {"purity", "completeness", "f1", "accuracy", "roc_auc", "pr_auc"}
    assert iv["f1"].value == pytest.approx(f1_score(y, d))
    assert iv["roc_auc"].value == pytest.approx(roc_auc_score(y, s))
    for name, i in iv.items():
        assert i.lo <= i.value <= i.hi and i.lo < i.hi, name
        assert (i.n_pos, i.n_neg, i.n_boot) == (int(y.sum()), int((~y).sum()), 500)
    # width shrinks like 1/sqrt(n): four times the objects, about half the width
    y4, s4 = np.tile(y, 4), np.tile(s, 4)
    iv4 = bootstrap_metrics(y4, scores=s4, metrics=("roc_auc",), n_boot=500, seed=0)["roc_auc"]
    ratio = (iv4.hi - iv4.lo) / (iv["roc_auc"].hi - iv["roc_auc"].lo)
    assert 0.35 < ratio < 0.65
    flat = intervals_as_dict(iv)
    assert flat["f1_lo"] == iv["f1"].lo and flat["n_pos"] == int(y.sum()) and flat["n_boot"] == 500


def test_paired_difference_matches_brute_force():
    y, s = _sample()
    a, b = s >= 0.8, s >= 1.4
    diff = paired_bootstrap_difference(y, a, b, metric="f1", n_boot=200, seed=5)
    brute = paired_bootstrap_difference(y, a, b, metric=lambda t, p: _sk("f1", t, p), n_boot=200, seed=5)
    assert diff.value == pytest.approx(f1_score(y, a) - f1_score(y, b))
    assert (diff.lo, diff.hi) == pytest.approx((brute.lo, brute.hi), abs=1e-12)
    assert diff.fraction_not_above_zero == pytest.approx(brute.fraction_not_above_zero)
    auc = paired_bootstrap_difference(y, s, -s, metric="roc_auc", n_boot=200, seed=5)
    assert auc.value == pytest.approx(2 * roc_auc_score(y, s) - 1)


def test_paired_difference_known_cases():
    y, s = _sample()
    same = paired_bootstrap_difference(y, s >= 1, s >= 1, n_boot=100)
    assert (same.value, same.lo, same.hi) == (0.0, 0.0, 0.0)
    # perfect vs. everything wrong: F1 1 and 0 in every resample, the difference is exactly 1
    perfect = paired_bootstrap_difference(y, y, ~y, n_boot=100)
    assert (perfect.value, perfect.lo, perfect.hi, perfect.fraction_not_above_zero) == (1.0, 1.0, 1.0, 0.0)
    # a = b plus one more true positive: the difference is positive in every resample that draws it, never negative
    b = (s >= 1.2) & ~(y & (s < 1.5))
    extra = np.flatnonzero(y & ~b)[0]
    a = b.copy()
    a[extra] = True
    d = paired_bootstrap_difference(y, a, b, n_boot=300, seed=2)
    assert d.value > 0 and d.lo >= 0.0


def test_pairing_narrows_the_interval_of_correlated_methods():
    y, s = _sample(n=600)
    rng = np.random.default_rng(9)
    a = s >= 1.0
    b = a.copy()
    flip = rng.random(y.size) < 0.03  # b disagrees with a on 3 % of the objects
    b[flip] = ~b[flip]
    paired = paired_bootstrap_difference(y, a, b, n_boot=400, seed=1)
    ia = bootstrap_distribution(y, decisions=a, metrics=("f1",), n_boot=400, seed=1)["f1"]
    ib = bootstrap_distribution(y, decisions=b, metrics=("f1",), n_boot=400, seed=2)["f1"]  # independent draws
    unpaired = np.quantile(ia - ib, [0.025, 0.975])
    assert paired.hi - paired.lo < 0.6 * (unpaired[1] - unpaired[0])


def test_bad_input_is_a_clear_error():
    y, s = _sample(n=50)
    with pytest.raises(DataError, match="n_boot"):
        bootstrap_metrics(y, scores=s, n_boot=0)
    with pytest.raises(DataError, match="need decisions"):
        bootstrap_metrics(y, scores=s, metrics=("f1",))
    with pytest.raises(DataError, match="unknown metric"):
        paired_bootstrap_difference(y, s, s, metric="recall")
    with pytest.raises(DataError, match="length"):
        bootstrap_metrics(y, decisions=(s > 0)[:-1])


def test_ratio_intervals_are_wilson_of_the_counts():
    from astropy.stats import binom_conf_interval

    from skysieve.metrics import ConfusionCounts, ratio_intervals

    iv = ratio_intervals(ConfusionCounts(tp=41, fp=3, fn=1, tn=0))
    def wilson(k, n):
        return tuple(binom_conf_interval(k, n, confidence_level=0.95, interval="wilson"))

    assert iv["purity"] == pytest.approx(wilson(41, 44)) and iv["completeness"] == pytest.approx(wilson(41, 42))
    assert np.isnan(ratio_intervals(ConfusionCounts(tp=0, fp=0, fn=2, tn=5))["purity"][0])  # nothing flagged


def test_threshold_bootstrap_rechooses_the_threshold_on_each_validation_resample():
    from skysieve.metrics import best_f1_threshold, bootstrap_indices, threshold_bootstrap
    from skysieve.metrics._compare import _best_thresholds

    yv, sv = _sample(n=200, seed=3)
    yt, st = _sample(n=250, seed=4)
    # the vectorised per-resample threshold is best_f1_threshold on the resampled arrays
    idx = bootstrap_indices(yv, n_boot=30, seed=8)
    w = np.stack([np.bincount(i, minlength=yv.size) for i in idx]).astype(float)
    assert _best_thresholds(w, yv, sv).tolist() == [best_f1_threshold(yv[i], sv[i])[0] for i in idx]
    full = threshold_bootstrap(yv, sv, yt, st, n_boot=400, seed=1)
    t, _ = best_f1_threshold(yv, sv)
    fixed = bootstrap_metrics(yt, decisions=st >= t, metrics=("f1",), n_boot=400, seed=1)["f1"]
    assert full["f1"].value == pytest.approx(f1_score(yt, st >= t)) == pytest.approx(fixed.value)
    assert full["f1"].hi - full["f1"].lo > fixed.hi - fixed.lo  # the threshold's own noise widens it
    assert full["f1"].n_pos == int(yt.sum())
    # with a perfect separation the threshold never matters: every resample scores F1 = 1
    y = np.r_[np.ones(20, bool), np.zeros(80, bool)]
    perfect = threshold_bootstrap(y, y * 2.0, y, y * 2.0, n_boot=50)
    assert (perfect["f1"].lo, perfect["f1"].hi) == (1.0, 1.0)


def test_balanced_accuracy_is_given_when_named_and_equals_sklearn_on_every_resample():
    y, s = _sample(n=120)
    d = s >= 1.0
    assert "balanced_accuracy" not in bootstrap_distribution(y, decisions=d, n_boot=5, seed=7)  # opt-in
    values = bootstrap_distribution(y, decisions=d, metrics=("balanced_accuracy",), n_boot=40, seed=7)
    idx = bootstrap_indices(y, n_boot=40, seed=7)
    brute = [skm.balanced_accuracy_score(y[i], d[i]) for i in idx]
    np.testing.assert_allclose(values["balanced_accuracy"], brute, rtol=1e-12)
    iv = bootstrap_metrics(y, decisions=d, metrics=("balanced_accuracy",), n_boot=200, seed=7)["balanced_accuracy"]
    assert iv.value == pytest.approx(skm.balanced_accuracy_score(y, d)) and iv.lo < iv.value < iv.hi
    one_class = bootstrap_metrics(np.ones(10, bool), decisions=np.ones(10, bool), metrics=("balanced_accuracy",),
                                  n_boot=10)["balanced_accuracy"]
    assert np.isnan(one_class.value) and np.isnan(one_class.lo)
