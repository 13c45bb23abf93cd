"""The lens evaluation (Angora et al. 2023 §4) on seeded synthetic scores, and its report."""

import csv
import json

import numpy as np
import pytest
from astropy.table import Table

from skysieve.errors import DataError
from skysieve.evaluate import best_f1_threshold, class_metrics, purity_completeness_crossing
from skysieve.tasks.lens._learning_params import AdversarialParams, LensEvaluateParams
from skysieve.tasks.lens.evaluate import (
    adversarial_mask,
    align_truth,
    evaluate_lens,
    false_positives_by_kind,
    lens_truth,
)
from skysieve.tasks.lens.report import write_lens_report


def _catalog(n: int, rng) -> Table:
    label = (rng.random(n) < 2 / 3).astype(np.int16)
    lens = label == 1
    nan = np.full(n, np.nan)
    mag = rng.uniform(18, 23, n)
    cluster = rng.choice(["M0416", "R2248"], n)
    colour = np.where(cluster == "M0416", 0.8, 1.0) - 0.02 * (mag - 20) + rng.normal(0, 0.02, n)
    blue = ~lens & (rng.random(n) < 0.2)
    colour[blue] -= 0.8
    return Table({
        "id": np.arange(n) + 100, "label": label, "cluster": cluster,
        "SRC_MAG_F814W": np.where(lens, rng.uniform(22, 29, n), nan),  # case differs from the params on purpose
        "theta_e_arcsec": np.where(lens, rng.uniform(0.2, 3.0, n), nan),
        "src_z": np.where(lens, rng.uniform(0.8, 6.0, n), nan),
        "arc_snr": np.where(lens, rng.lognormal(np.log(17), 1.0, n), nan),
        "lens_mag_f814w": mag, "lens_colour": colour,
        "kind": np.where(lens, "lens", rng.choice(["member", "twin", "blue_neighbour", "edge_on"], n)),
    })


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    catalog = _catalog(900, rng)
    split = np.array(["train"] * 500 + ["val"] * 200 + ["test"] * 200)
    y = np.asarray(catalog["label"]).astype(bool)
    bright = np.nan_to_num(np.asarray(catalog["SRC_MAG_F814W"]), nan=30) < 27  # bright sources are easy
    score = np.clip(np.where(y, np.where(bright, 0.8, 0.45), 0.3) + rng.normal(0, 0.15, y.size), 0, 1)
    scores = catalog["id", "label"][500:]
    scores["split"] = split[500:]
    scores["cnn_prob"] = score[500:]
    oof = Table({"id": catalog["id"][:500], "label": catalog["label"][:500], "fold": np.arange(500) % 5,
                 "score_raw": score[:500]})
    return catalog, scores, oof


def test_lens_truth_finds_columns_and_normalises_colour(data):
    catalog, _, _ = data
    params = LensEvaluateParams()
    truth = lens_truth(catalog, params)
    assert truth.colnames == ["id", "source_mag", "theta_e", "source_z", "arc_snr", "lens_mag", "lens_colour", "kind"]
    assert np.array_equal(np.isnan(truth["source_mag"]), np.asarray(catalog["label"]) == 0)
    red = np.asarray(catalog["lens_colour"]) > 0.5
    assert abs(np.median(truth["lens_colour"][red])) < 0.01 and np.all(truth["lens_colour"][~red] < -0.5)
    raw = lens_truth(catalog, params.model_copy(update={"normalise_colour": False}))
    assert np.array_equal(raw["lens_colour"], catalog["lens_colour"])
    with pytest.raises(DataError, match=r"no column 'nope' \(evaluate_lens.theta_e_column\)"):
        lens_truth(catalog, params.model_copy(update={"theta_e_column": "nope"}))


def test_adversarial_mask_any_or_all():
    y = np.array([1, 1, 1, 1, 0])
    truth = {"source_mag": np.array([28.5, 26.0, 28.5, 26.0, np.nan]),
             "theta_e": np.array([1.0, 0.3, 0.3, 1.0, np.nan])}
    assert adversarial_mask(y, truth, params=AdversarialParams()).tolist() == [True, True, True, False, False]
    assert adversarial_mask(y, truth, params=AdversarialParams(combine="all")).tolist() == [False, False, True,
                                                                                           False, False]


def test_evaluate_lens_thresholds_and_samples(data):
    catalog, scores, oof = data
    params = LensEvaluateParams(operating_point="crossing")
    truth = lens_truth(catalog, params)
    ev = evaluate_lens(scores, truth, params=params, oof=oof)

    val, test = scores[scores["split"] == "val"], scores[scores["split"] == "test"]
    yv, sv = np.asarray(val["label"]), np.asarray(val["cnn_prob"])
    yt, st = np.asarray(test["label"]), np.asarray(test["cnn_prob"])
    assert ev.thresholds["fixed"] == 0.5
    assert ev.thresholds["crossing"] == purity_completeness_crossing(yv, sv).threshold
    assert ev.thresholds["f1"] == best_f1_threshold(yv, sv)[0]
    assert ev.threshold == ev.thresholds["crossing"] == ev.result.thresholds["cnn"]
    assert ev.result.test.counts == class_metrics(yt, st >= ev.threshold).counts
    assert ev.test["fixed"].all.counts == class_metrics(yt, st >= 0.5).counts

    # the starred metrics leave out faint-source / small-θ_E lenses, and only those
    clean = ev.test["fixed"].clean.counts
    hard = adversarial_mask(yt, align_truth(truth, np.asarray(test["id"])), params=params.adversarial)
    assert clean.n == yt.size - hard.sum() and clean.tn + clean.fp == (yt == 0).sum()

    # the FN breakdown is on the test lenses at the operating threshold
    fn = ev.breakdown["test"].bins["source_mag"]
    assert fn.n_total == yt.sum() and fn.errors_total == ((yt == 1) & (st < ev.threshold)).sum()
    faint = ev.breakdown["test"].cuts["source_mag"]  # rows: <27, >=27, <28, >=28
    assert faint.rate[1] > faint.rate[0]  # the synthetic finder misses faint sources more often

    # cross-validation: pooled out-of-fold at 0.5, and five folds
    assert ev.cv.all.counts == class_metrics(oof["label"], np.asarray(oof["score_raw"]) >= 0.5).counts
    assert [f["fold"] for f in ev.folds] == [0, 1, 2, 3, 4]
    assert set(ev.fold_quartiles()) >= {"accuracy", "lens_f1", "non_lens_f1", "roc_auc"}

    state = ev.state()
    assert state["thresholds"]["cnn"] == ev.threshold and state["thresholds"]["cnn.fixed"] == 0.5
    assert len(state["references"]["cnn_prob"]) == 200
    reg = state["test_metrics"]["cnn"]
    assert reg["f1"] == ev.result.test.f1 and "non_lens_f1" in reg and reg["cv_roc_auc_std"] > 0
    json.dumps(state)


def test_evaluate_lens_without_oof_and_with_a_one_class_split(data):
    catalog, scores, _ = data
    params = LensEvaluateParams()
    ev = evaluate_lens(scores, lens_truth(catalog, params), params=params)
    assert ev.cv is None and ev.folds == [] and set(ev.breakdown) == {"test"}
    only_lenses = scores[(scores["split"] != "val") | (scores["label"] == 1)]
    with pytest.raises(DataError, match="the val split needs both lenses and non-lenses"):
        evaluate_lens(only_lenses, lens_truth(catalog, params), params=params)


def test_lens_report_writes_the_papers_tables(data, tmp_path):
    catalog, scores, oof = data
    params = LensEvaluateParams()
    ev = evaluate_lens(scores, lens_truth(catalog, params), params=params, oof=oof)
    files = write_lens_report(ev, tmp_path / "report", max_curve_points=50)

    metrics = json.loads(files.metrics_json.read_text())
    assert metrics["cnn"]["test"]["f1"] == pytest.approx(ev.result.test.f1)
    assert len(metrics["folds"]["lens_f1"]["values"]) == 5
    assert metrics["crossing"]["val"]["purity"] == pytest.approx(metrics["crossing"]["val"]["completeness"], abs=0.02)
    md = files.markdown.read_text()
    assert md.count("### Table A.4") == 2 and md.count("### Table A.5") == 2
    # every Table A.1 figure with its 95 % bootstrap interval, and the counts behind it
    op = metrics["test"][ev.operating_point]
    assert op["n_pos"] + op["n_neg"] == 200 and op["lens_f1_lo"] <= op["lens_f1_hi"]
    iv = ev.test[ev.operating_point].intervals["non_lens_completeness"]
    y = np.asarray(scores["label"][scores["split"] == "test"]).astype(bool)
    assert iv.n_pos == (~y).sum()  # the non-lens figures rest on the non-lenses
    cell = f"{100 * ev.test['fixed'].all.as_dict()['lens_f1']:.1f} ("
    assert cell in next(line for line in md.splitlines() if line.startswith("| lens F1"))
    assert "In brackets: 95 % bootstrap" in md
    reg = ev.registry_metrics()
    assert reg["f1_lo"] <= reg["f1_hi"] and reg["non_lens_f1_lo"] <= reg["non_lens_f1_hi"] and reg["n_pos"] == y.sum()
    # issue 14's red-member false-positive rate: members and twins called lenses, by hand
    test = scores[scores["split"] == "test"]
    kinds = np.asarray(align_truth(lens_truth(catalog, params), np.asarray(test["id"]))["kind"])
    red = np.isin(kinds, ["member", "twin"]) & ~y
    fp = int((red & (np.asarray(test["cnn_prob"]) >= ev.threshold)).sum())
    assert reg["red_member_fpr"] == pytest.approx(fp / red.sum()) and reg["red_member_fpr_lo"] < reg["red_member_fpr"]
    assert md.count("### False positives by kind of non-lens") == 2 and "| red (member + twin) |" in md
    with (tmp_path / "report/tables/fp_by_kind_test.csv").open() as fh:
        last = list(csv.DictReader(fh))[-1]
    assert last["kind"] == "red" and int(last["fp"]) == fp
    with (tmp_path / "report/tables/a5_false_negatives_test.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["selection"] == "total" and int(rows[0]["lenses"]) == int(np.sum(scores["label"][
        scores["split"] == "test"]))
    assert [r["selection"] for r in rows[1:3]] == ["source F814W < 27", "source F814W ≥ 27"]
    with (tmp_path / "report/plots/breakdown/cv/lens_colour.csv").open() as fh:
        assert next(csv.reader(fh))[:3] == ["lo", "hi", "n"]
    for name in ("false_negatives_test", "false_positives_cv", "purity_completeness", "folds", "roc", "confusion"):
        assert files.pngs[name].read_bytes()[:4] == b"\x89PNG"


def test_balanced_threshold_equalises_lens_and_non_lens_completeness():
    from skysieve.tasks.lens.evaluate import balanced_threshold

    rng = np.random.default_rng(4)
    y = np.r_[np.ones(2000, bool), np.zeros(1000, bool)]  # the 2:1 prior
    s = np.r_[rng.normal(1.0, 1.0, 2000), rng.normal(-1.0, 1.0, 1000)]
    t = balanced_threshold(y, s)
    tpr, tnr = (s[y] >= t).mean(), (s[~y] < t).mean()
    assert abs(tpr - tnr) < 0.01 and abs(t) < 0.1  # equal-variance classes: the midpoint
    # purity on the sample reweighted to equal priors equals completeness there
    w = np.where(y, 1 / y.sum(), 1 / (~y).sum())
    purity = (w * (y & (s >= t))).sum() / (w * (s >= t)).sum()
    assert abs(purity - tpr) < 0.01
    # unchanged when the classes are resampled to another prior (unlike the crossing)
    keep = np.r_[np.arange(500), np.arange(2000, 3000)]
    assert abs(balanced_threshold(y[keep], s[keep]) - t) < 0.15
    with pytest.raises(DataError, match="both"):
        balanced_threshold(y[:10], s[:10])


def test_arc_snr_breakdown_and_balanced_default(data):
    catalog, scores, oof = data
    params = LensEvaluateParams()
    assert params.operating_point == "balanced"
    ev = evaluate_lens(scores, lens_truth(catalog, params), params=params, oof=oof)
    assert ev.threshold == ev.thresholds["balanced"] and ev.state()["thresholds"]["cnn.balanced"] == ev.threshold
    snr = ev.breakdown["test"].cuts["arc_snr"]  # rows: <6, >=6, <20, >=20
    assert snr.kind == "false_negative" and snr.n_total == int(np.sum(scores["label"][scores["split"] == "test"]))
    assert np.all((snr.rate_lo <= snr.rate) & (snr.rate <= snr.rate_hi))


def test_false_positives_by_kind_counts_each_kind_and_the_red_ones_together():
    labels = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    calls = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1], bool)
    kinds = np.array(["lens", "lens", "member", "member", "twin", "edge_on", "edge_on", "blue_neighbour", "twin"])
    out = false_positives_by_kind(labels, calls, kinds)
    assert list(out) == ["blue_neighbour", "edge_on", "member", "twin", "red"]
    assert [(v["n"], v["fp"]) for v in out.values()] == [(1, 0), (2, 1), (2, 1), (2, 2), (4, 3)]
    assert out["red"]["rate"] == 0.75 and 0.3 < out["red"]["lo"] < 0.75
