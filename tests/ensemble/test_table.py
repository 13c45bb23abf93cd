"""DeepSZ Table 1: rows, astropy table, Markdown, and the four methods evaluated end to end."""

import numpy as np
import pandas as pd
import pytest

from skysieve.ensemble import (
    METHODS,
    comparison_table,
    comparison_table_from_counts,
    evaluate_ensembles,
    fit_ensembles,
    table_to_astropy,
    table_to_markdown,
)
from skysieve.evaluate import ConfusionCounts, confusion_counts

DEEPSZ = {
    "mf": ConfusionCounts(tp=1133, fp=729, fn=712, tn=102609),
    "cnn": ConfusionCounts(tp=1118, fp=780, fn=727, tn=102558),
    "and": ConfusionCounts(tp=1283, fp=625, fn=561, tn=102713),
    "rank_product": ConfusionCounts(tp=1429, fp=946, fn=416, tn=102392),
}


def test_markdown_reproduces_deepsz_table1():
    md = table_to_markdown(comparison_table_from_counts(DEEPSZ))
    lines = md.splitlines()
    assert lines[0] == "| Method | TP | FP | FN | TN | Purity | Completeness | F1 |"
    assert lines[2:] == [
        "| MF | 1133 | 729 | 712 | 102609 | 0.61 | 0.61 | 0.61 |",
        "| CNN | 1118 | 780 | 727 | 102558 | 0.59 | 0.61 | 0.60 |",
        "| MF+CNN AND | 1283 | 625 | 561 | 102713 | 0.67 | 0.70 | 0.68 |",
        "| MF+CNN rank product | 1429 | 946 | 416 | 102392 | 0.60 | 0.77 | 0.68 |",
    ]


def test_astropy_table_and_rows_from_decisions():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.2
    decisions = {"mf": rng.random(200) < 0.2, "cnn": y | (rng.random(200) < 0.05)}
    rows = comparison_table(y, decisions)
    assert [r["method"] for r in rows] == ["mf", "cnn"]
    c = confusion_counts(y, decisions["cnn"])
    assert rows[1] == {"method": "cnn", "tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn,
                       "purity": c.purity, "completeness": c.completeness, "f1": c.f1}  # fmt: skip
    table = table_to_astropy(rows)
    assert table.colnames == ["method", "tp", "fp", "fn", "tn", "purity", "completeness", "f1"]
    assert table["tp"][1] == c.tp


def test_evaluate_ensembles_uses_the_fitted_validation_thresholds(val_test):
    val, test = val_test
    ens = fit_ensembles(val)
    results = evaluate_ensembles(ens, val, test)
    assert list(results) == list(METHODS)
    t = ens.thresholds()
    assert results["mf"].thresholds == {"mf": t["mf"]}
    assert results["and"].thresholds == {"and.cnn": t["and.cnn"], "and.mf": t["and.mf"]}
    for method, decision in ens.decide(test["cnn_prob"], test["mf_snr"]).items():
        assert results[method].test.counts == confusion_counts(test["label"], decision)
    for method, f1 in ens.val_f1().items():
        assert results[method].val.f1 == pytest.approx(f1)
    assert results["and"].test.roc_auc is None and results["rank_product"].test.roc_auc > 0.5


def test_table_rows_carry_intervals_and_the_paired_differences_state_the_claim(val_test):
    from skysieve.config import EnsembleParams, EvaluateParams
    from skysieve.ensemble import differences_to_markdown, ensemble_differences, run_ensembles
    from skysieve.evaluate import f1_score, paired_bootstrap_difference

    val, test = val_test[0].iloc[:2000], val_test[1].iloc[:2000]
    table = pd.concat([val.assign(split="val"), test.assign(split="test")]).to_dict("list")
    from astropy.table import Table

    outcome = run_ensembles(Table({k: np.asarray(v) for k, v in table.items()}), params=EnsembleParams(),
                            evaluate=EvaluateParams(bootstrap_resamples=100, bootstrap_seed=1))
    y = np.asarray(test["label"])
    decisions = outcome.ensembles.decide(test["cnn_prob"], test["mf_snr"])
    for row in outcome.table:
        r = outcome.results[row["method"]].test
        assert (row["f1_lo"], row["f1_hi"]) == r.interval("f1")  # one resampling for table and metrics
        assert row["n_pos"] == int(y.sum())
    md = table_to_markdown(outcome.table)
    assert f"({outcome.table[0]['f1_lo']:.2f}–{outcome.table[0]['f1_hi']:.2f})" in md.splitlines()[2]
    assert "95 % bootstrap intervals over the 2000 test cutouts" in md

    assert list(outcome.differences) == ["and_minus_mf", "and_minus_cnn", "rank_product_minus_mf",
                                         "rank_product_minus_cnn"]
    d = outcome.differences["and_minus_mf"]
    assert d.value == pytest.approx(f1_score(y, decisions["and"]) - f1_score(y, decisions["mf"]))
    same = paired_bootstrap_difference(y, decisions["and"], decisions["mf"], n_boot=100, seed=1)
    assert (d.lo, d.hi) == (same.lo, same.hi)
    json_ready = outcome.differences_dict()["f1"]["rank_product_minus_cnn"]
    assert set(json_ready) == {"value", "lo", "hi", "n_pos", "n_neg", "n_boot", "fraction_not_above_zero"}
    text = differences_to_markdown(outcome.differences)
    assert "MF+CNN AND − MF" in text and f"{d.lo:+.2f} … {d.hi:+.2f}" in text
    verdict = "better beyond the noise" if d.lo > 0 else "worse beyond the noise" if d.hi < 0 else "not distinguishable"
    assert verdict in text.splitlines()[4]
    assert ensemble_differences(y, {"mf": decisions["mf"]}, n_boot=10) == {}  # no pair present, nothing
    refit = outcome.refit_dict()  # the same with every method refitted per validation resample
    assert refit["f1"]["mf"]["value"] == pytest.approx(f1_score(y, decisions["mf"]))
    assert set(refit["differences"]) == set(outcome.differences) and refit["f1"]["cnn"]["n_boot"] == 100


def test_refit_bootstrap_refits_every_method_on_each_validation_resample(val_test):
    from skysieve.ensemble import refit_bootstrap
    from skysieve.evaluate import bootstrap_indices, f1_score

    val, test = val_test[0].iloc[:1500], val_test[1].iloc[:1500]
    f1, diffs = refit_bootstrap(val, test, n_boot=20, seed=3)
    full = fit_ensembles(val).decide(test["cnn_prob"], test["mf_snr"])
    y = test["label"].to_numpy()
    assert {m: iv.value for m, iv in f1.items()} == pytest.approx({m: f1_score(y, d) for m, d in full.items()})
    # brute force: the same resamples, every method refitted with fit_ensembles, F1 by f1_score
    seeds = [int(q.generate_state(1)[0]) for q in np.random.SeedSequence(3).spawn(2)]
    iv_all = bootstrap_indices(val["label"], n_boot=20, seed=seeds[0])
    it_all = bootstrap_indices(test["label"], n_boot=20, seed=seeds[1])
    brute = {m: [] for m in METHODS}
    for iv, it in zip(iv_all, it_all, strict=True):
        d = fit_ensembles(val.iloc[iv]).decide(test["cnn_prob"].to_numpy()[it], test["mf_snr"].to_numpy()[it])
        for m in METHODS:
            brute[m].append(f1_score(y[it], d[m]))
    for m in METHODS:
        assert (f1[m].lo, f1[m].hi) == pytest.approx(tuple(np.quantile(brute[m], [0.025, 0.975]))), m
    d = diffs["rank_product_minus_mf"]
    diff = np.array(brute["rank_product"]) - np.array(brute["mf"])
    assert (d.lo, d.hi) == pytest.approx(tuple(np.quantile(diff, [0.025, 0.975])))
    assert d.fraction_not_above_zero == pytest.approx(np.mean(diff <= 0))
