"""Both-class metrics, error rates by property and the purity = completeness threshold (Angora et al. 2023)."""

import numpy as np
import pytest
from astropy.stats import binom_conf_interval
from sklearn import metrics as skm

from skysieve.errors import DataError
from skysieve.evaluate import (
    class_metrics,
    fold_class_metrics,
    normalised_colour,
    purity_completeness_crossing,
    purity_completeness_curve,
    quartile_summary,
    rate_by_bin,
    rate_by_cut,
)
from tests.metrics.test_metrics import arrays_from_counts

# Angora et al. (2023) Table A.5, SC-VGG: 2704 lenses, 224 FN; the FN/TP column is FN / (2704 - FN).
# Table A.4, VGG: 1037 non-lenses, 154 FP, FP/TN = 0.174.


def test_class_metrics_match_sklearn_for_both_classes():
    rng = np.random.default_rng(1)
    y = rng.random(500) < 0.6
    p = np.where(rng.random(500) < 0.8, y, ~y)
    m = class_metrics(y, p, class_names=("lens", "non_lens")).as_dict()
    assert set(class_metrics(y, p).as_dict()) >= {"positive_f1", "negative_f1"}  # the engine's own default names
    pur, comp, f1, _ = skm.precision_recall_fscore_support(y, p, labels=[1, 0], zero_division=0)
    assert [m["lens_purity"], m["non_lens_purity"]] == pytest.approx(pur)
    assert [m["lens_completeness"], m["non_lens_completeness"]] == pytest.approx(comp)
    assert [m["lens_f1"], m["non_lens_f1"]] == pytest.approx(f1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p))
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == 500


def test_class_metrics_of_a_hand_built_matrix():
    # TP=8, FP=2, FN=4, TN=6
    y, p = arrays_from_counts(8, 2, 4, 6)
    m = class_metrics(y, p)
    assert (m.positive.purity, m.positive.completeness) == (0.8, 8 / 12)
    assert (m.negative.purity, m.negative.completeness) == (0.6, 0.75)
    assert m.negative.f1 == pytest.approx(2 * 6 / (2 * 6 + 2 + 4))
    assert m.accuracy == 0.7


def test_crossing_is_where_purity_equals_completeness():
    # scores 0.9 .. 0.1; labels chosen so that at t=0.6 four are flagged, three of them lenses, of four lenses
    y = np.array([1, 1, 0, 1, 0, 1, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    c = purity_completeness_crossing(y, s)
    assert c.threshold == 0.6
    assert c.purity == c.completeness == 0.75


def test_crossing_agrees_with_a_brute_force_search():
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.3
    s = np.round(np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1), 2)  # ties
    c = purity_completeness_crossing(y, s)
    thresholds, purity, completeness = purity_completeness_curve(y, s)
    for t, pu, co in zip(thresholds, purity, completeness, strict=True):
        flagged = s >= t
        assert pu == pytest.approx(skm.precision_score(y, flagged))
        assert co == pytest.approx(skm.recall_score(y, flagged))
    # the highest threshold at which completeness has caught up with purity
    ok = thresholds[completeness >= purity]
    assert c.threshold == ok.max()
    above = thresholds[thresholds > c.threshold]
    assert above.size  # this sample has thresholds above the crossing: the next one up is still short
    i = np.flatnonzero(thresholds == above.min())[0]
    assert completeness[i] < purity[i]


def test_crossing_needs_positives():
    with pytest.raises(DataError, match="no positives"):
        purity_completeness_crossing([0, 0, 0], [0.1, 0.5, 0.9])


def test_false_negative_rate_by_bin_hand_built():
    # six lenses at source magnitudes 23, 23, 26, 26, 28.5, 28.5 (two non-lenses with NaN magnitude)
    labels = np.array([1, 1, 1, 1, 1, 1, 0, 0])
    decisions = np.array([1, 1, 1, 0, 0, 0, 1, 0])
    mag = np.array([23, 23, 26, 26, 28.5, 28.5, np.nan, np.nan])
    r = rate_by_bin(labels, decisions, mag, [22, 25, 28, 29], kind="false_negative")
    assert r.n.tolist() == [2, 2, 2]
    assert r.errors.tolist() == [0, 1, 2]
    assert r.rate.tolist() == [0.0, 0.5, 1.0]
    np.testing.assert_allclose([r.rate_lo, r.rate_hi], binom_conf_interval([0, 1, 2], 2, confidence_level=0.95, interval="wilson"))
    assert r.rate_lo[2] < 1.0 and r.rate_hi[2] == pytest.approx(1.0)  # 2 of 2 missed: not a certain 100 %
    assert r.correct.tolist() == [2, 1, 0]
    assert r.ratio[:2].tolist() == [0.0, 1.0] and np.isnan(r.ratio[2])  # FN/TP, undefined with no TP
    assert (r.n_total, r.errors_total, r.total_rate) == (6, 3, 0.5)
    assert r.error_share.tolist() == pytest.approx([0, 1 / 3, 2 / 3])


def test_false_positive_rate_counts_only_non_lenses():
    labels = np.array([0, 0, 0, 0, 1, 1])
    decisions = np.array([1, 0, 0, 0, 1, 1])
    colour = np.array([-0.8, -0.8, 0.0, 0.1, -0.8, 0.0])
    r = rate_by_bin(labels, decisions, colour, [-1, -0.5, 0.5], kind="false_positive")
    assert r.n.tolist() == [2, 2] and r.errors.tolist() == [1, 0]
    assert r.rate.tolist() == [0.5, 0.0]
    assert r.ratio.tolist() == [1.0, 0.0]  # FP/TN


def test_empty_bins_are_nan_and_out_of_range_still_counts_in_totals():
    r = rate_by_bin([1, 1, 1], [0, 1, 1], [0.3, 0.4, 9.0], [0.2, 0.5, 1.0, 2.0], kind="false_negative")
    assert r.n.tolist() == [2, 0, 0] and np.isnan(r.rate[1:]).all()
    assert r.n_total == 3 and r.share.tolist() == pytest.approx([2 / 3, 0, 0])


def test_rate_by_cut_reproduces_table_a5_layout():
    # 2704 lenses: 841 at F814W >= 28 (31.1 %), 224 FN of which 87 faint
    n, n_faint, fn, fn_faint = 2704, 841, 224, 87
    labels = np.ones(n, dtype=int)
    mag = np.r_[np.full(n_faint, 28.5), np.full(n - n_faint, 26.0)]
    decisions = np.ones(n, dtype=int)
    decisions[:fn_faint] = 0
    decisions[n_faint:n_faint + fn - fn_faint] = 0
    r = rate_by_cut(labels, decisions, mag, [28.0], kind="false_negative")
    assert np.isinf(r.lo[0]) and r.hi[0] == 28.0 and r.lo[1] == 28.0 and np.isinf(r.hi[1])
    assert r.n.tolist() == [n - n_faint, n_faint]
    # Each row against sklearn's confusion matrix of the objects in it, and the totals against the whole sample.
    for row, members in enumerate((mag < 28.0, mag >= 28.0)):
        _, _, fn_row, tp_row = skm.confusion_matrix(labels[members], decisions[members], labels=[0, 1]).ravel()
        assert (r.n[row], r.errors[row], r.correct[row]) == (tp_row + fn_row, fn_row, tp_row)
        assert r.rate[row] == pytest.approx(fn_row / (tp_row + fn_row))
        assert r.ratio[row] == pytest.approx(fn_row / tp_row)
    _, _, fn_all, tp_all = skm.confusion_matrix(labels, decisions, labels=[0, 1]).ravel()
    assert (r.n_total, r.errors_total) == (tp_all + fn_all, fn_all)
    assert r.total_rate == pytest.approx(fn_all / (tp_all + fn_all))
    # The published figures.
    assert round(100 * r.share[1], 1) == 31.1
    assert round(100 * r.error_share[1], 1) == 38.8  # paper: 38.8 % of SC-VGG FN are faint
    assert round(r.errors_total / (r.n_total - r.errors_total), 3) == 0.090  # the table's "Total Number" FN/TP


def test_rate_by_cut_orders_cuts_and_rejects_nonsense():
    r = rate_by_cut([1, 1, 1, 1], [1, 0, 1, 0], [2.5, 3.5, 4.5, 5.5], [4.0, 3.0], kind="false_negative")
    assert r.hi[0] == 3.0 and r.lo[3] == 4.0 and r.n.tolist() == [1, 3, 2, 2]
    with pytest.raises(DataError, match="error kind"):
        rate_by_bin([1], [1], [1.0], [0, 2], kind="wrong")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="cuts"):
        rate_by_cut([1], [1], [1.0], [], kind="false_negative")


def test_normalised_colour_removes_a_red_sequence_per_group():
    rng = np.random.default_rng(5)
    mag = rng.uniform(18, 23, 300)
    group = np.repeat(["A", "B"], 150)
    offset = np.where(group == "A", 0.8, 1.1)
    colour = offset - 0.03 * (mag - 20) + rng.normal(0, 0.02, 300)
    blue = np.zeros(300, dtype=bool)
    blue[::10] = True
    colour[blue] -= 0.7  # blue interlopers, clipped out of the fit
    norm = normalised_colour(colour, mag, groups=group)
    assert np.abs(np.median(norm[~blue])) < 0.01 and np.std(norm[~blue]) < 0.03
    assert np.all(norm[blue] < -0.5)
    assert np.isnan(normalised_colour([0.8, np.nan], [20.0, 21.0])[1])


def test_fold_class_metrics_per_fold_and_quartiles():
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    s = np.array([0.9, 0.2, 0.4, 0.6, 0.8, 0.7, 0.1, 0.3])
    folds = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    rows = fold_class_metrics(y, s, folds, threshold=0.5, class_names=("lens", "non_lens"))
    assert [r["fold"] for r in rows] == [0, 1]
    assert rows[0]["lens_completeness"] == 0.5 and rows[0]["lens_purity"] == 0.5
    assert rows[1]["accuracy"] == 1.0 and rows[1]["roc_auc"] == 1.0
    assert rows[0]["roc_auc"] == pytest.approx(skm.roc_auc_score(y[:4], s[:4]))

    q = quartile_summary([0.80, 0.90, 0.85, 0.95, 0.70])
    assert (q["median"], q["q1"], q["q3"]) == pytest.approx((0.85, 0.80, 0.90))
    assert q["iqr"] == pytest.approx(0.10) and q["lower"] == pytest.approx(0.65) and q["upper"] == pytest.approx(1.05)
    with pytest.raises(DataError, match="finite"):
        quartile_summary([0.5, np.nan])
