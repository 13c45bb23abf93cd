"""Targets, decoding and Chan & Stott's scoring against hand counts, scikit-learn and scipy."""

import numpy as np
import pytest
from astropy.table import Table
from scipy import stats
from sklearn.metrics import precision_score, recall_score

from skysieve.tasks.detect.dataset import centre_cell, heatmap_targets, stretch
from skysieve.tasks.detect.evaluate import (
    bootstrap_fields,
    coco_map,
    decode_maps,
    detection_counts,
    f1_curve,
    ks_bias,
    match_detections,
    resampled_thresholds,
)


def test_heatmap_targets_peak_and_sizes():
    t = heatmap_targets([40.0, 100.0], [60.0, 20.0], [32.0, 16.0], [24.0, 16.0], size_px=128, stride=4, min_sigma=1.0)
    assert t.shape == (32, 32, 3)
    cx, cy = int(centre_cell(40.0, stride=4)), int(centre_cell(60.0, stride=4))
    assert (cx, cy) == (10, 15) and t[cy, cx, 0] == 1.0
    assert (t[..., 0] >= 1.0).sum() == 2
    assert t[cy, cx, 1] == pytest.approx(np.log(8.0)) and t[cy, cx, 2] == pytest.approx(np.log(6.0))
    sigma = np.sqrt(32 * 24) / 4 / 6
    assert t[cy, cx + 2, 0] == pytest.approx(np.exp(-4 / (2 * sigma**2)), rel=1e-5)


def test_decode_recovers_targets():
    t = heatmap_targets([40.3, 100.0], [60.0, 20.0], [32.0, 16.0], [24.0, 16.0], size_px=128, stride=4,
                        min_sigma=1.0)
    det = decode_maps(t[None], stride=4, min_score=0.5, max_detections=5)
    assert len(det) == 2 and list(det["score"]) == [1.0, 1.0]
    first = det[np.argmin(np.hypot(det["x_px"] - 40, det["y_px"] - 60))]
    assert abs(first["x_px"] - 40.3) < 2.5 and abs(first["y_px"] - 60.0) < 2.5
    assert first["width_px"] == pytest.approx(32.0) and first["height_px"] == pytest.approx(24.0)


def test_sqrt_stretch_in_noise_units():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 2.0, (64, 64, 1))
    x[10, 10, 0] = 5.0 + 2.0 * 16
    y = stretch(x, kind="sqrt")
    assert y[10, 10, 0] == pytest.approx(4.0, rel=0.1)  # sqrt(16 σ)
    x[:5] = np.nan
    assert np.all(stretch(x, kind="asinh")[:5] == 0)


def _toy():
    # two images: image 0 holds clusters a (z 0.1) and b (z 0.3), image 1 holds c; 1 kpc per pixel everywhere
    truth = Table({"image": [0, 0, 1], "x_px": [10.0, 200.0, 50.0], "y_px": [10.0, 10.0, 50.0]})
    det = Table({"image": [0, 0, 0, 1, 1], "x_px": [12.0, 15.0, 500.0, 50.0, 52.0],
                 "y_px": [10.0, 10.0, 500.0, 160.0, 50.0], "score": [0.9, 0.8, 0.7, 0.95, 0.3]})
    return det, truth


def test_matching_is_one_to_one_within_the_radius():
    det, truth = _toy()
    m = match_detections(det, truth, kpc_per_px=np.ones(3), match_kpc=100.0)
    # 0.9 takes a; 0.8 is a duplicate of a (a is taken, b is 185 kpc away): FP; 0.7 far: FP;
    # 0.95 in image 1 is 110 kpc from c: FP; 0.3 takes c
    assert list(m.det_cluster) == [0, -1, -1, -1, 2]
    np.testing.assert_allclose(m.det_offset_kpc[[0, 4]], [2.0, 2.0])
    far = match_detections(det, truth, kpc_per_px=np.full(3, 0.5), match_kpc=100.0)
    assert far.det_cluster[3] == 2  # at 0.5 kpc/px, 110 px is 55 kpc


def test_counts_agree_with_sklearn():
    det, truth = _toy()
    m = match_detections(det, truth, kpc_per_px=np.ones(3), match_kpc=100.0)
    for thr in (0.0, 0.5, 0.85):
        c = detection_counts(np.asarray(det["score"]), m.det_cluster, len(truth), thr)
        keep = np.asarray(det["score"]) >= thr
        # as binary labels: each kept detection is "predicted positive", true if matched; missed clusters are FNs
        y_true = np.r_[(m.det_cluster[keep] >= 0).astype(int), np.ones(c["fn"], int)]
        y_pred = np.r_[np.ones(keep.sum(), int), np.zeros(c["fn"], int)]
        assert c["precision"] == pytest.approx(precision_score(y_true, y_pred, zero_division=np.nan), nan_ok=True)
        assert c["recall"] == pytest.approx(recall_score(y_true, y_pred))
        assert c["tp"] + c["fn"] == 3


def test_ks_bias_against_scipy():
    rng = np.random.default_rng(2)
    full = rng.uniform(0.1, 0.4, 80)
    rec = full[:60]
    out = ks_bias(rec, full)
    ref = stats.ks_2samp(rec, full)
    assert out["d"] == pytest.approx(ref.statistic) and out["p_value"] == pytest.approx(ref.pvalue)
    assert out["d_critical"] == pytest.approx(1.358 * np.sqrt((60 + 80) / (60 * 80)), rel=1e-3)


def test_the_papers_ks_form_is_the_missed_form_diluted_and_misses_a_real_bias():
    """D(rec, all) = n_missed/n_all × D(rec, missed) exactly; a recall falling from 0.95 to 0.65 with z is found
    by recovered vs missed and not by the paper's recovered vs input."""
    rng = np.random.default_rng(3)
    z = rng.uniform(0.1, 0.4, 440)
    found = rng.random(z.size) < 0.95 - (z - 0.1)  # 0.95 at z = 0.1, 0.65 at z = 0.4
    paper, missed = ks_bias(z[found], z), ks_bias(z[found], z[~found])
    assert paper["d"] == pytest.approx((~found).sum() / z.size * missed["d"], rel=1e-12)
    assert paper["d"] < paper["d_critical"] and missed["d"] > missed["d_critical"] and missed["p_value"] < 0.05


def test_coco_map_perfect_and_bootstrap():
    truth = Table({"image": [0, 1], "box_x0": [10.0, 20.0], "box_y0": [10.0, 30.0], "box_x1": [50.0, 60.0],
                   "box_y1": [40.0, 70.0]})
    det = Table({"image": [0, 1], "x_px": [30.0, 40.0], "y_px": [25.0, 50.0], "width_px": [40.0, 40.0],
                 "height_px": [30.0, 40.0], "score": [0.9, 0.8]})
    assert coco_map(det, truth, images=np.array([0, 1])) == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0)}
    det["x_px"] += 40.0  # no overlap any more
    assert coco_map(det, truth, images=np.array([0, 1]))["map50"] == pytest.approx(0.0)
    values = np.array([1.0, 0.0, 1.0, 1.0])
    lo, hi = bootstrap_fields(lambda s: values[s].mean(), np.arange(4), n_boot=300, seed=0)
    assert 0.0 <= lo <= 0.75 <= hi <= 1.0


def test_decode_merges_peaks_within_the_nms_radius():
    # two separate peaks 3 cells (12 px) apart: both kept without NMS, the weaker merged with nms_px = 13
    t = heatmap_targets([40.0, 52.0, 100.0], [60.0, 60.0, 20.0], [8.0] * 3, [8.0] * 3, size_px=128, stride=4,
                        min_sigma=0.3)
    t[..., 0][t[..., 0] < 1] = 0.0
    t[15, 13, 0] = 0.7  # the peak at x = 52 px is the weaker
    both = decode_maps(t[None], stride=4, min_score=0.5, max_detections=5)
    merged = decode_maps(t[None], stride=4, min_score=0.5, max_detections=5, nms_px=13.0)
    assert len(both) == 3 and len(merged) == 2
    assert sorted(np.round(merged["x_px"]).tolist()) == [42.0, 102.0] and 0.7 not in list(merged["score"])
    assert len(decode_maps(t[None], stride=4, min_score=0.5, max_detections=5, nms_px=11.0)) == 3


def test_nms_radius_is_match_kpc_at_nms_z():
    # against an independent flat ΛCDM (astropy, no radiation): θ = 100 kpc / D_A(0.1), within 0.5 %
    from astropy.cosmology import FlatLambdaCDM

    from skysieve.config import CosmologyParams
    from skysieve.tasks.detect.params import EvaluateDetectParams
    from skysieve.tasks.detect.report import nms_radius_arcsec

    cosmo = CosmologyParams()
    da_kpc = FlatLambdaCDM(H0=cosmo.H0, Om0=cosmo.Om0).angular_diameter_distance(0.1).to_value("kpc")
    r = nms_radius_arcsec(EvaluateDetectParams(match_kpc=100.0, nms_z=0.1), cosmo=cosmo)
    assert r == pytest.approx(100.0 / da_kpc * 206264.806, rel=5e-3)
    assert nms_radius_arcsec(EvaluateDetectParams(match_kpc=100.0, nms_z=0.2), cosmo=cosmo) < r


def test_f1_curve_matches_detection_counts_and_weights_repeat_fields():
    det, truth = _toy()
    m = match_detections(det, truth, kpc_per_px=np.ones(3), match_kpc=100.0)
    grid = np.array([0.0, 0.25, 0.5, 0.85, 0.99])
    curve = f1_curve(np.asarray(det["score"]), m.det_cluster, 3, grid)
    expected = [detection_counts(np.asarray(det["score"]), m.det_cluster, 3, t)["f1"] for t in grid]
    np.testing.assert_allclose(curve, expected)
    # image 1 counted twice = the toy with image 1's detections and cluster duplicated
    w = np.where(np.asarray(det["image"]) == 1, 2.0, 1.0)
    doubled = Table(np.concatenate([det.as_array(), det[det["image"] == 1].as_array()]))
    cl = np.r_[m.det_cluster, np.where(m.det_cluster[det["image"] == 1] >= 0, 3, -1)]
    ref = [detection_counts(np.asarray(doubled["score"]), cl, 4, t)["f1"] for t in grid]
    np.testing.assert_allclose(f1_curve(np.asarray(det["score"]), m.det_cluster, 4, grid, det_weight=w), ref)


def test_resampled_thresholds_are_stable_only_when_the_curve_is_sharp():
    # 40 fields, one cluster each, found with score 0.8; fields 0-19 also hold a false detection at 0.3:
    # every resample's F1 is best at a threshold in (0.3, 0.8]
    fields = np.arange(40)
    scores = np.r_[np.full(40, 0.8), np.full(20, 0.3)]
    clusters = np.r_[np.arange(40), np.full(20, -1)]
    det_field = np.r_[fields, fields[:20]]
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    chosen, curves = resampled_thresholds(scores, clusters, det_field, fields, fields, grid, n_boot=200, seed=1)
    assert curves.shape == (200, grid.size) and np.all((chosen > 0.3) & (chosen <= 0.8))
    # a flat curve (scores carry no information) leaves the choice to chance: it spreads
    rng = np.random.default_rng(3)
    noisy = rng.uniform(0, 1, 40)  # one detection per field, on its cluster or not at random
    matched = np.where(rng.uniform(0, 1, 40) < 0.5, fields, -1)
    spread, _ = resampled_thresholds(noisy, matched, fields, fields, fields, grid, n_boot=200, seed=1)
    assert np.ptp(spread) > 0.2
