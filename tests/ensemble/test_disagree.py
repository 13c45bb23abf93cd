"""Where the CNN and the MF disagree (DeepSZ §3.3): counts that match the decisions, Wilson intervals, galleries;
and the truth-assisted MF row beside the position-only one."""

import json

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from skysieve.data import open_dataset
from skysieve.ensemble import (
    CATEGORIES,
    disagreement_categories,
    disagreement_markdown,
    disagreement_report,
    truth_assisted_row,
    write_disagreement,
)
from skysieve.errors import DataError
from skysieve.metrics import wilson_interval
from tests.train._fixtures import write_tiny_dataset


def _decisions(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.2
    mf = np.where(y, rng.random(n) < 0.8, rng.random(n) < 0.05)
    cnn = np.where(y, rng.random(n) < 0.6, rng.random(n) < 0.1)
    mass = np.where(y, 10 ** rng.uniform(14.0, 15.0, n), np.nan)
    return y.astype(int), mf, cnn, mass


def test_categories_follow_the_decision_pairs():
    cat = disagreement_categories([True, True, False, False], [True, False, True, False])
    assert cat.tolist() == ["both", "mf_only", "cnn_only", "neither"]
    with pytest.raises(DataError, match="differ in length"):
        disagreement_categories([True], [True, False])


def test_report_counts_match_the_decisions_overall_and_per_bin():
    y, mf, cnn, mass = _decisions()
    edges = [1e14, 3e14, 1e15]
    r = disagreement_report(y, mf, cnn, truth={"mvir": mass}, bins={"mvir": edges})
    pos, neg = y == 1, y == 0
    assert r["positives"]["mf_only"]["count"] == np.count_nonzero(pos & mf & ~cnn)
    assert r["positives"]["cnn_only"]["count"] == np.count_nonzero(pos & ~mf & cnn)
    assert r["negatives"]["both"]["count"] == np.count_nonzero(neg & mf & cnn)
    assert r["negatives"]["neither"]["count"] == np.count_nonzero(neg & ~mf & ~cnn)
    for key, n in (("positives", pos.sum()), ("negatives", neg.sum())):
        assert r[key]["n"] == n and sum(r[key][c]["count"] for c in CATEGORIES) == n
    bins = r["bins"]["mvir"]
    assert [b["lo"] for b in bins] == edges[:-1]
    assert sum(b["n"] for b in bins) == pos.sum()  # every positive in exactly one bin
    low = pos & (mass < 3e14)
    assert bins[0]["mf_only"]["count"] == np.count_nonzero(low & mf & ~cnn)
    k, n = bins[0]["mf_only"]["count"], bins[0]["n"]
    lo, hi = wilson_interval(k, n)
    assert (bins[0]["mf_only"]["lo"], bins[0]["mf_only"]["hi"]) == pytest.approx((float(lo), float(hi)))
    assert bins[0]["mf_only"]["lo"] < k / n < bins[0]["mf_only"]["hi"]
    text = disagreement_markdown(r)
    assert f"| clusters (positives) | {pos.sum()} |" in text and "Positives by `mvir`" in text


def test_truth_assisted_row_only_with_its_column_and_fitted_on_validation():
    val = pd.DataFrame({"label": [0, 0, 1, 1, 0, 1], "mf_snr": [1, 2, 3, 5, 6, 7.0],
                        "mf_snr_truth": [1, 2, 6, 7, 3, 8.0]})
    test = pd.DataFrame({"label": [1, 0, 1, 0], "mf_snr": [4.0, 2.0, 7.0, 6.5], "mf_snr_truth": [6.5, 5.0, 9.0, 1.0]})
    assert truth_assisted_row(val.drop(columns="mf_snr_truth"), test) is None
    out = truth_assisted_row(val, test)
    assert out["row"]["threshold"] == pytest.approx(6.0)  # the F1-best validation threshold on mf_snr_truth
    assert out["decisions"].tolist() == [True, False, True, False]
    assert (out["row"]["tp"], out["row"]["fp"], out["row"]["fn"]) == (2, 0, 0)


def test_write_disagreement_writes_report_and_one_gallery_per_category(tmp_path):
    ds = open_dataset(write_tiny_dataset(tmp_path / "cutouts", n=60))
    y, mf, cnn, mass = _decisions(n=60, seed=2)
    test = Table({"id": np.asarray(ds.catalog["id"]), "label": y, "mf_snr": np.linspace(0, 9, 60),
                  "cnn_prob": np.linspace(1, 0, 60), "mvir": mass})
    report = disagreement_report(y, mf, cnn, truth={"mvir": mass}, bins={"mvir": [1e14, 1e15]})
    out = tmp_path / "report"
    out.mkdir()
    paths = write_disagreement(out, report, test, mf, cnn, dataset=ds, truth_columns=["mvir"], max_rows=3,
                               reference_differences=True)
    names = sorted(p.name for p in paths)
    assert names == sorted(["disagreement.md", "disagreement.json", "disagree_positives_mf_only.png",
                            "disagree_positives_cnn_only.png", "disagree_negatives_mf_only.png",
                            "disagree_negatives_cnn_only.png"])
    assert json.loads((out / "disagreement.json").read_text())["positives"]["n"] == int(y.sum())
    import matplotlib.image

    for p in paths:
        if p.suffix == ".png":
            assert p.read_bytes()[:4] == b"\x89PNG"
    # 3 bands + 2 differences side by side: the gallery is wider than it is tall for ≤ 3 rows
    shown = matplotlib.image.imread(out / "disagree_negatives_cnn_only.png")
    assert shown.shape[1] > shown.shape[0]
