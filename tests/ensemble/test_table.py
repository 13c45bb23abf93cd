"""DeepSZ Table 1: rows, astropy table, Markdown, and the four methods evaluated end to end."""

import numpy as np
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
