"""Metrics against DeepSZ Table 1 and against scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as skm

from skysieve.errors import DataError
from skysieve.metrics import (
    ConfusionCounts,
    accuracy_score,
    best_f1_threshold,
    completeness_by_bin,
    completeness_score,
    confusion_counts,
    f1_score,
    f1_threshold_curve,
    fold_spread,
    pr_auc_score,
    purity_score,
    roc_auc_score,
    score_by_bin,
    summarize_folds,
    wilson_interval,
)

# DeepSZ (Lin et al. 2021) Table 1, test split: (TP, FP, FN, TN) and the printed purity, completeness, F1.
# The AND row sums to 105182 cutouts where the others sum to 105183: the paper's own counts, kept as printed.
DEEPSZ_TABLE1 = {
    "mf": ((1133, 729, 712, 102609), (0.61, 0.61, 0.61)),
    "cnn": ((1118, 780, 727, 102558), (0.59, 0.61, 0.60)),
    "and": ((1283, 625, 561, 102713), (0.67, 0.70, 0.68)),
    "rank_product": ((1429, 946, 416, 102392), (0.60, 0.77, 0.68)),
}


def arrays_from_counts(tp, fp, fn, tn):
    """Truth and decisions that have exactly these confusion counts, shuffled."""
    y = np.r_[np.ones(tp), np.zeros(fp), np.ones(fn), np.zeros(tn)].astype(int)
    p = np.r_[np.ones(tp), np.ones(fp), np.zeros(fn), np.zeros(tn)].astype(int)
    order = np.random.default_rng(0).permutation(y.size)
    return y[order], p[order]


@pytest.mark.parametrize("method", DEEPSZ_TABLE1)
def test_deepsz_table1_counts_give_printed_ratios(method):
    (tp, fp, fn, tn), printed = DEEPSZ_TABLE1[method]
    counts = ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=tn)
    assert (round(counts.purity, 2), round(counts.completeness, 2), round(counts.f1, 2)) == printed

    y, p = arrays_from_counts(tp, fp, fn, tn)
    assert confusion_counts(y, p) == counts
    assert round(purity_score(y, p), 2) == printed[0]
    assert round(completeness_score(y, p), 2) == printed[1]
    assert round(f1_score(y, p), 2) == printed[2]
    # and they agree with sklearn on the same arrays
    assert f1_score(y, p) == pytest.approx(skm.f1_score(y, p))


def test_deepsz_ensembles_beat_single_methods_in_f1():
    f1 = {m: ConfusionCounts(*c).f1 for m, (c, _) in DEEPSZ_TABLE1.items()}
    assert min(f1["and"], f1["rank_product"]) > max(f1["mf"], f1["cnn"])


@pytest.mark.parametrize("seed", range(5))
def test_threshold_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    y = rng.random(n) < rng.uniform(0.05, 0.5)
    s = rng.normal(y * rng.uniform(0, 2), 1.0)
    p = s >= np.quantile(s, rng.uniform(0.5, 0.95))
    assert purity_score(y, p) == pytest.approx(skm.precision_score(y, p, zero_division=0))
    assert completeness_score(y, p) == pytest.approx(skm.recall_score(y, p, zero_division=0))
    assert f1_score(y, p) == pytest.approx(skm.f1_score(y, p, zero_division=0))
    assert accuracy_score(y, p) == pytest.approx(skm.accuracy_score(y, p))
    tn, fp, fn, tp = skm.confusion_matrix(y, p, labels=[0, 1]).ravel()
    assert confusion_counts(y, p) == ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=tn)
    assert roc_auc_score(y, s) == pytest.approx(skm.roc_auc_score(y, s))
    assert pr_auc_score(y, s) == pytest.approx(skm.average_precision_score(y, s))


@pytest.mark.parametrize("seed", range(4))
def test_f1_curve_matches_sklearn_at_every_threshold(seed):
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.random(n) < 0.1
    s = np.round(rng.normal(y * 1.5, 1.0), 1)  # rounded: many ties
    thresholds, f1 = f1_threshold_curve(y, s)
    np.testing.assert_array_equal(thresholds, np.unique(s))
    expected = [skm.f1_score(y, s >= t, zero_division=0) for t in thresholds]
    np.testing.assert_allclose(f1, expected)


def test_best_f1_threshold_is_the_brute_force_maximum():
    rng = np.random.default_rng(11)
    y = rng.random(500) < 0.05
    s = rng.normal(2.0 * y, 1.0)
    t, best = best_f1_threshold(y, s)
    brute = max(skm.f1_score(y, s >= u) for u in np.unique(s))
    assert best == pytest.approx(brute)
    assert f1_score(y, s >= t) == pytest.approx(best)
    assert t in s[y]  # the optimum sits at a positive's score


def test_best_f1_threshold_prefers_the_highest_of_equal_maxima():
    y = np.array([1, 0, 1, 0])
    s = np.array([4.0, 3.0, 2.0, 1.0])
    # t=4 -> F1 2/3;  t=2 -> TP 2, FP 1 -> F1 0.8;  t=1 -> 2/3
    assert best_f1_threshold(y, s) == (2.0, pytest.approx(0.8))
    y2 = np.array([1, 0, 0, 1])
    s2 = np.array([4.0, 3.0, 2.0, 1.0])  # t=4: 2/3, t=1: 2*2/(4+2)=2/3 -> highest wins
    assert best_f1_threshold(y2, s2)[0] == 4.0


def test_zero_division_gives_zero():
    y = np.array([1, 1, 0])
    none = np.zeros(3, dtype=bool)
    assert purity_score(y, none) == 0.0
    assert f1_score(y, none) == 0.0
    assert completeness_score(np.zeros(3), np.ones(3)) == 0.0


def test_bad_inputs_raise_data_errors_that_say_what_to_do():
    with pytest.raises(DataError, match=r"y_true must hold 0/1 or booleans \(got values \[2\]\)"):
        f1_score([0, 1, 2], [0, 1, 1])
    with pytest.raises(DataError, match="y_pred must match y_true in length"):
        f1_score([0, 1], [0, 1, 1])
    with pytest.raises(DataError, match="1 NaN or infinite values"):
        roc_auc_score([0, 1], [0.1, np.nan])
    with pytest.raises(DataError, match=r"only one class \(0 positives of 3\).*both positives and negatives"):
        roc_auc_score([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="non-negative integer"):
        ConfusionCounts(tp=-1, fp=0, fn=0, tn=0)


def _wilson(k, n, z=1.959964):
    """Wilson's score interval written out (E. B. Wilson 1927), independent of astropy."""
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def test_wilson_interval_matches_the_formula_and_is_never_zero_width():
    k, n = np.array([0, 3, 17, 5]), np.array([4, 10, 40, 5])
    lo, hi = wilson_interval(k, n)
    np.testing.assert_allclose(np.c_[lo, hi], [_wilson(a, b) for a, b in zip(k, n, strict=True)], rtol=1e-6)
    # completeness 1 on 5 clusters is 1 (0.57–1): sqrt(p (1 - p) / n) would claim no error at all
    assert hi[3] == pytest.approx(1.0) and lo[3] == pytest.approx(5 / (5 + 1.959964**2), rel=1e-6)
    assert lo[0] == pytest.approx(0.0, abs=1e-12) and hi[0] > 0.4
    empty = wilson_interval([0], [0])
    assert np.isnan(empty[0]).all() and np.isnan(empty[1]).all()
    with pytest.raises(DataError, match=r"successes must lie in \[0, trials\]"):
        wilson_interval([3], [2])


def test_completeness_by_bin_counts_only_true_objects_in_range():
    labels = np.array([1, 1, 1, 1, 1, 0, 1, 1])
    found = np.array([1, 0, 1, 1, 0, 1, 1, 1])
    mass = np.array([1.0, 1.5, 2.5, 3.0, 2.0, 1.2, np.nan, 9.0])  # NaN and out-of-range are left out
    b = completeness_by_bin(labels, found, mass, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(b.count, [2, 3])  # 3.0 is in the last, closed bin; 2.0 in the second
    np.testing.assert_allclose(b.value, [0.5, 2 / 3])
    np.testing.assert_allclose(np.c_[b.lo, b.hi], np.array([_wilson(1, 2), _wilson(2, 3)]))
    np.testing.assert_allclose(b.centers, [1.5, 2.5])
    empty = completeness_by_bin(labels, found, mass, [10.0, 11.0])
    assert empty.count[0] == 0 and np.isnan(empty.value[0])
    with pytest.raises(DataError, match="strictly increasing"):
        completeness_by_bin(labels, found, mass, [2.0, 1.0])


def test_score_by_bin_mean_and_standard_error():
    scores = np.array([0.9, 0.7, 0.2, 0.4, 0.6])
    offset = np.array([0.1, 0.4, 2.1, 2.9, 0.2])
    b = score_by_bin(scores, offset, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(b.count, [3, 0, 2])
    np.testing.assert_allclose(b.value[[0, 2]], [np.mean([0.9, 0.7, 0.6]), 0.3])
    sem = [np.std([0.9, 0.7, 0.6], ddof=1) / np.sqrt(3), np.std([0.2, 0.4], ddof=1) / np.sqrt(2)]
    np.testing.assert_allclose(b.hi[[0, 2]] - b.value[[0, 2]], 1.959964 * np.array(sem), rtol=1e-6)
    np.testing.assert_allclose(b.value[[0, 2]] - b.lo[[0, 2]], 1.959964 * np.array(sem), rtol=1e-6)
    assert np.isnan(b.value[1])


def test_fold_spread_is_mean_and_sample_std():
    values = [0.61, 0.58, 0.64, 0.60]
    s = fold_spread(values)
    assert s.mean == pytest.approx(np.mean(values))
    assert s.std == pytest.approx(np.std(values, ddof=1))
    assert s.n == 4 and s.values == tuple(values)
    assert "± " in str(s)
    assert fold_spread([0.5]).std == 0.0
    summary = summarize_folds([{"f1": 0.6, "auc": 0.9, "only_here": 1.0}, {"f1": 0.7, "auc": 0.95}])
    assert list(summary) == ["f1", "auc"]
    assert summary["f1"].mean == pytest.approx(0.65)
    with pytest.raises(DataError, match="no fold values"):
        fold_spread([])


def test_evaluate_re_exports_the_metrics():
    import skysieve.evaluate
    import skysieve.evaluate.metrics
    import skysieve.metrics

    for name in skysieve.metrics.__all__:
        assert getattr(skysieve.evaluate, name) is getattr(skysieve.metrics, name), name
        assert getattr(skysieve.evaluate.metrics, name) is getattr(skysieve.metrics, name), name
    assert set(skysieve.metrics.__all__) <= set(skysieve.evaluate.__all__)
