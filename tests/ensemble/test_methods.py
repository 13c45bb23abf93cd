"""MF, CNN, AND and rank-product classifiers: fitted on validation, applied unchanged elsewhere."""

import itertools

import numpy as np
import pytest
from astropy.table import Table

from skysieve.config import EnsembleParams
from skysieve.ensemble import (
    METHODS,
    AndEnsemble,
    Ensembles,
    RankProductEnsemble,
    ReferenceDistribution,
    ThresholdClassifier,
    fit_ensembles,
)
from skysieve.errors import DataError
from skysieve.evaluate import best_f1_threshold, f1_score
from tests.ensemble.conftest import make_scores


def test_single_score_thresholds_maximise_validation_f1(val_test):
    val, _ = val_test
    for column in ("mf_snr", "cnn_prob"):
        clf = ThresholdClassifier(column).fit(val)
        assert (clf.threshold_, clf.val_f1_) == best_f1_threshold(val["label"], val[column])
        np.testing.assert_array_equal(clf.decide(val), val[column].to_numpy() >= clf.threshold_)


def test_and_grid_search_is_exact_when_the_grid_covers_every_positive():
    val = make_scores(800, seed=5, positive_rate=0.04)
    y, cnn, mf = (val[c].to_numpy() for c in ("label", "cnn_prob", "mf_snr"))
    est = AndEnsemble(grid_size=10_000).fit(val)
    pairs = itertools.product(np.unique(cnn[y == 1]), np.unique(mf[y == 1]))
    brute = max(f1_score(y, (cnn >= tc) & (mf >= tm)) for tc, tm in pairs)
    assert est.val_f1_ == pytest.approx(brute)
    assert f1_score(y, est.decide(val)) == pytest.approx(est.val_f1_)
    assert est.f1_grid_.shape == (est.grid_mf_.size, est.grid_cnn_.size)
    assert est.f1_grid_.max() == pytest.approx(est.val_f1_)


def test_coarse_and_grid_is_close_and_its_f1_is_honest(val_test):
    val, _ = val_test
    coarse = AndEnsemble(grid_size=20).fit(val)
    fine = AndEnsemble(grid_size=5000).fit(val)
    assert coarse.grid_cnn_.size <= 20
    assert coarse.val_f1_ <= fine.val_f1_ + 1e-12
    assert coarse.val_f1_ > 0.9 * fine.val_f1_
    assert f1_score(val["label"], coarse.decide(val)) == pytest.approx(coarse.val_f1_)


def test_and_on_an_exact_grid_is_at_least_as_good_as_either_method_on_validation(val_test):
    val, _ = val_test
    ens = fit_ensembles(val, params=EnsembleParams(and_grid_size=5000))
    f1 = ens.val_f1()
    assert f1["and"] >= max(f1["mf"], f1["cnn"]) - 1e-12
    assert set(f1) == set(METHODS)


def test_rank_product_ranks_against_the_stored_validation_scores(val_test):
    val, test = val_test
    rp = RankProductEnsemble().fit(val)
    assert rp.reference_cnn_ == ReferenceDistribution(val["cnn_prob"], name="cnn_prob")
    q_val = rp.score(val)
    assert (rp.threshold_, rp.val_f1_) == best_f1_threshold(val["label"], q_val)
    # test q: percentiles against the *validation* scores, by hand
    ref_c, ref_m = np.sort(val["cnn_prob"]), np.sort(val["mf_snr"])

    def mid(ref, x):
        return (np.searchsorted(ref, x, "left") + np.searchsorted(ref, x, "right")) / (2 * ref.size)

    expected = mid(ref_c, test["cnn_prob"].to_numpy()) * mid(ref_m, test["mf_snr"].to_numpy())
    np.testing.assert_allclose(rp.score(test), expected)
    # one cutout alone gets the same decision as in the whole batch
    whole = rp.decide(test)
    for i in (0, 17, int(np.flatnonzero(whole)[0])):
        assert rp.decide(test.iloc[[i]])[0] == whole[i]


def test_ensembles_beat_single_methods_on_test(val_test):
    val, test = val_test
    ens = fit_ensembles(val)
    decisions = ens.decide(test["cnn_prob"], test["mf_snr"])
    f1 = {m: f1_score(test["label"], d) for m, d in decisions.items()}
    assert max(f1["and"], f1["rank_product"]) > max(f1["mf"], f1["cnn"])


def test_fit_accepts_dataframe_astropy_table_and_dict(val_test):
    val, test = val_test
    a = fit_ensembles(val)
    b = fit_ensembles(Table.from_pandas(val))
    c = fit_ensembles({k: val[k].to_numpy() for k in val.columns})
    assert a.thresholds() == b.thresholds() == c.thresholds()


def test_state_round_trip_gives_identical_decisions(val_test):
    val, test = val_test
    ens = fit_ensembles(val)
    again = Ensembles.from_state(ens.thresholds(), ens.references())
    for m, d in ens.decide(test["cnn_prob"], test["mf_snr"]).items():
        np.testing.assert_array_equal(d, again.decide(test["cnn_prob"], test["mf_snr"])[m])
    cols = ens.predict_columns(test["cnn_prob"], test["mf_snr"])
    assert set(cols) == {"cnn_prob", "mf_snr", "q_cnn", "q_mf", "rank_product",
                         *(f"decision_{m}" for m in METHODS)}  # fmt: skip
    np.testing.assert_allclose(cols["rank_product"], cols["q_cnn"] * cols["q_mf"])
    with pytest.raises(DataError, match=r"missing \['and.mf'\]"):
        Ensembles.from_state({k: v for k, v in ens.thresholds().items() if k != "and.mf"}, ens.references())


def test_bad_tables_raise_errors_naming_the_column(val_test):
    val, _ = val_test
    with pytest.raises(DataError, match=r"missing column 'mf_snr' \(have \['label', 'cnn_prob'\]\)"):
        fit_ensembles(val[["label", "cnn_prob"]])
    with pytest.raises(DataError, match="no positive labels.*val_frac"):
        fit_ensembles(val.assign(label=0))
    with pytest.raises(DataError, match="not fitted"):
        RankProductEnsemble().decide(val)
    ens = fit_ensembles(val)
    with pytest.raises(DataError, match="one value per cutout"):
        ens.decide([0.1, 0.2], [1.0])
