"""The validation → test protocol: thresholds chosen on validation, applied unchanged to test."""

import numpy as np
import pytest
from astropy.table import Table

from skysieve.config import EvaluateParams
from skysieve.errors import DataError
from skysieve.evaluate import best_f1_threshold, confusion_counts, evaluate_decisions, evaluate_scores


def split(seed, n=3000, shift=0.0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.05
    s = rng.normal(2.5 * y + shift, 1.0)
    return y.astype(int), s


def test_threshold_comes_from_validation_and_is_applied_unchanged_to_test():
    yv, sv = split(1)
    yt, st = split(2, shift=0.7)  # test scores drift: its own best threshold is elsewhere
    result = evaluate_scores(yv, sv, yt, st, method="cnn")
    t_val, f1_val = best_f1_threshold(yv, sv)
    t_test, f1_test_best = best_f1_threshold(yt, st)
    assert t_val != pytest.approx(t_test)
    assert result.thresholds == {"cnn": t_val}
    assert result.val.f1 == pytest.approx(f1_val)
    assert result.test.counts == confusion_counts(yt, st >= t_val)
    assert result.test.f1 < f1_test_best  # not re-optimised on test
    m = result.metrics()
    assert set(m) == {"thresholds", "val", "test"}
    assert {"purity", "completeness", "f1", "roc_auc", "pr_auc", "tp", "fp", "fn", "tn"} <= set(m["test"])
    np.testing.assert_array_equal(result.test_counts_matrix, [[m["test"]["tn"], m["test"]["fp"]],
                                                              [m["test"]["fn"], m["test"]["tp"]]])
    assert result.test_curves.thresholds.size == np.unique(st).size


def test_a_given_threshold_is_used_as_is():
    yv, sv = split(3)
    yt, st = split(4)
    result = evaluate_scores(yv, sv, yt, st, method="mf", threshold=1.0)
    assert result.thresholds == {"mf": 1.0}
    assert result.test.counts == confusion_counts(yt, st >= 1.0)


def test_truth_columns_give_completeness_and_offset_curves():
    yv, sv = split(5)
    yt, st = split(6, n=2000)
    rng = np.random.default_rng(0)
    truth = Table({
        "mvir": np.where(yt == 1, rng.uniform(2e14, 8e14, yt.size), np.nan),
        "z": np.where(yt == 1, rng.uniform(0.25, 1.5, yt.size), np.nan),
        "offset_arcmin": rng.uniform(0, 4, yt.size),
    })
    truth["mvir"].unit = "solMass"
    result = evaluate_scores(yv, sv, yt, st, method="cnn", truth=truth, params=EvaluateParams())
    assert set(result.binned) == {"completeness_vs_mass", "completeness_vs_redshift", "score_vs_offset"}
    b = result.binned["completeness_vs_mass"]
    assert b.count.sum() == yt.sum()
    found = (st >= result.thresholds["cnn"]) & (yt == 1)
    assert np.nansum(b.value * b.count) == pytest.approx(found.sum())
    assert result.binned["score_vs_offset"].count.sum() == yt.sum()
    # a truth table without some columns gives only what it can
    partial = evaluate_scores(yv, sv, yt, st, truth={"z": truth["z"]})
    assert set(partial.binned) == {"completeness_vs_redshift"}


def test_validation_without_positives_is_an_error_that_names_the_fix():
    yt, st = split(7)
    with pytest.raises(DataError, match=r"validation split has no positives.*val_frac"):
        evaluate_scores(np.zeros(10), np.arange(10.0), yt, st)


def test_decision_only_method_records_thresholds_and_has_no_auc():
    yv, sv = split(8)
    yt, st = split(9)
    result = evaluate_decisions(yv, sv > 1, yt, st > 1, method="and", thresholds={"and.cnn": 0.3, "and.mf": 1.0})
    assert result.test.roc_auc is None and result.test_curves is None
    assert result.thresholds == {"and.cnn": 0.3, "and.mf": 1.0}
    assert result.test.counts == confusion_counts(yt, st > 1)


def test_test_metrics_carry_bootstrap_intervals_and_counts():
    from skysieve.evaluate import bootstrap_metrics

    yv, sv = split(1)
    yt, st = split(2)
    result = evaluate_scores(yv, sv, yt, st, method="cnn", params=EvaluateParams(bootstrap_resamples=300,
                                                                                    bootstrap_seed=4))
    t = result.thresholds["cnn"]
    expected = bootstrap_metrics(yt, scores=st, decisions=st >= t, n_boot=300, seed=4)
    m = result.metrics()["test"]
    assert m["n_pos"] == int(yt.sum()) and m["n_neg"] == int((1 - yt).sum()) and m["n_boot"] == 300
    for name, iv in expected.items():
        assert (m[f"{name}_lo"], m[f"{name}_hi"]) == (iv.lo, iv.hi), name
        assert iv.lo < m[name] < iv.hi, name
    assert "f1_lo" not in result.metrics()["val"]  # validation figures are at their own optimum: no interval
    assert result.test.format("f1") == f"{m['f1']:.2f} ({m['f1_lo']:.2f}–{m['f1_hi']:.2f})"
    none = evaluate_scores(yv, sv, yt, st, params=EvaluateParams(bootstrap_resamples=0))
    assert "f1_lo" not in none.metrics()["test"] and none.test.format("f1") == f"{none.test.f1:.2f}"
    dec = evaluate_decisions(yv, sv > 1, yt, st > 1, method="and", thresholds={"and.x": 1.0},
                             params=EvaluateParams(bootstrap_resamples=200))
    assert {"f1_lo", "purity_hi", "n_pos"} <= set(dec.metrics()["test"]) and "roc_auc_lo" not in dec.metrics()["test"]


def test_threshold_noise_widens_the_fixed_threshold_interval():
    from skysieve.evaluate import threshold_noise

    yv, sv = split(5, n=1500)
    yt, st = split(6, n=1500)
    table = Table({"split": ["val"] * yv.size + ["test"] * yt.size, "label": np.r_[yv, yt],
                   "mf_snr": np.r_[sv, st], "cnn_prob": np.r_[sv, st] / 10})
    params = EvaluateParams(bootstrap_resamples=300, bootstrap_seed=2)
    noise = threshold_noise(table, params=params)
    fixed = evaluate_scores(yv, sv, yt, st, method="mf", params=params).test.intervals["f1"]
    assert set(noise) == {"mf", "cnn"} and noise["mf"]["f1"].value == pytest.approx(fixed.value)
    assert noise["mf"]["f1"].hi - noise["mf"]["f1"].lo > fixed.hi - fixed.lo
    assert (noise["cnn"]["f1"].lo, noise["cnn"]["f1"].hi) == (noise["mf"]["f1"].lo, noise["mf"]["f1"].hi)  # same ranks
    assert threshold_noise(table, params=EvaluateParams(bootstrap_resamples=0)) == {}
