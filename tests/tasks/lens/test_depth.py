"""Per-cluster depth, member-count weights and the matched-filter arc SNR of the lens simulation."""

import numpy as np

from skysieve.config import CosmologyParams
from skysieve.tasks.lens._render import add_noise, arc_snr, noise_variance
from skysieve.tasks.lens.params import SimulateLensParams
from skysieve.tasks.lens.sim import plan_lens_tasks, run_lens_task


def test_paper_clusters_carry_hff_depth_and_member_counts():
    clusters = {c.name: c for c in SimulateLensParams().clusters}
    assert {n for n, c in clusters.items() if c.exposure_scale > 1} == {"R2248", "M0416"}  # the Frontier Fields
    assert clusters["M1206"].n_members == 258 and clusters["R2129"].n_members == 70  # paper Table 1, N_CLM


def test_noise_variance_matches_add_noise_and_falls_with_depth():
    band = SimulateLensParams().bands[-1]
    image = np.full((200, 200), 0.05)
    rng = np.random.default_rng(0)
    for scale in (1.0, 5.0):
        var = noise_variance(image, band, 0.06, exposure_scale=scale)
        measured = add_noise(rng, image, band, 0.06, exposure_scale=scale).var()
        np.testing.assert_allclose(measured, var.mean(), rtol=0.05)
    assert noise_variance(image, band, 0.06, exposure_scale=5.0).mean() < noise_variance(image, band, 0.06).mean() / 4


def test_arc_snr_is_the_matched_filter_sum_and_grows_as_sqrt_depth():
    bands = SimulateLensParams().bands
    source = np.zeros((3, 16, 16))
    source[:, 8, 4:12] = 0.01
    scene = np.zeros_like(source)
    expected = np.sqrt(sum((source[k] ** 2 / noise_variance(source[k], b, 0.06)).sum() for k, b in enumerate(bands)))
    assert arc_snr(source, scene, bands, pixel_arcsec=0.06) == np.float64(expected)
    # sky-dominated: SNR ∝ sqrt(exposure)
    ratio = arc_snr(source, scene, bands, pixel_arcsec=0.06, exposure_scale=4.0) / expected
    assert 1.9 < ratio <= 2.0


def test_clusters_are_drawn_by_member_count_and_lenses_carry_arc_snr():
    lens_cosmo = CosmologyParams()
    cfg = SimulateLensParams.model_validate({
        "n_cutouts": 9, "size_px": 32, "supersampling": 2, "seed": 3, "neighbours": {"mean_count": 0.0},
        "clusters": [{"name": "A", "ra_deg": 10, "dec_deg": 0, "z": 0.4, "theta_e_arcsec": 20, "n_members": 1},
                     {"name": "B", "ra_deg": 20, "dec_deg": 0, "z": 0.4, "theta_e_arcsec": 20, "n_members": 1000,
                      "exposure_scale": 5.0}]})
    rows = [t for task in plan_lens_tasks(cfg, seed=cfg.seed) for _, t in run_lens_task(task, cfg, lens_cosmo)]
    clusters = [r["cluster"] for r in rows]
    assert clusters.count("B") >= len(rows) - 1
    snr = [r["arc_snr"] for r in rows if r["label"] == 1]
    assert snr and all(np.isfinite(snr)) and min(snr) > 0
