"""The members simulation: labels from spectroscopic redshifts, magnitudes, pixels that carry the fluxes."""

import h5py
import numpy as np
import pytest
from scipy import stats

from skysieve.config import CosmologyParams
from skysieve.tasks.members._population import C_KMS, draw_population, power_law_magnitudes
from skysieve.tasks.members._render import icl_image
from skysieve.tasks.members.sim import build_specs, colour_grid
from tests.tasks.members.conftest import tiny_members_cfg


def test_power_law_magnitudes_follow_their_cdf():
    rng = np.random.default_rng(0)
    m = power_law_magnitudes(4000, (18.0, 24.0), 0.4, rng=rng)
    a, b, s = 18.0, 24.0, 0.4

    def cdf(x):
        return (10 ** (s * x) - 10 ** (s * a)) / (10 ** (s * b) - 10 ** (s * a))

    assert stats.kstest(m, cdf).pvalue > 0.01
    assert m.min() >= a and m.max() <= b


def test_labels_come_from_the_spectroscopic_velocity_cut():
    cfg = tiny_members_cfg(sample_scale=1.0)
    truth = draw_population(cfg, CosmologyParams(), colour_grid(cfg), rng=np.random.default_rng(1))
    dv = C_KMS * (truth["z_spec"] - truth["z_cluster"]) / (1 + truth["z_cluster"])
    np.testing.assert_allclose(dv, truth["dv_kms"])
    assert np.array_equal(truth["label"] == 1, np.abs(dv) <= cfg.velocity_cut_kms)
    # nearly all drawn members are labelled members (σ_v = 1000 km/s, cut at 3000), few interlopers are
    kind = np.asarray(truth["kind"]).astype(str)
    member_kind = np.char.endswith(kind, "member")
    assert truth["label"][member_kind].mean() > 0.97
    assert truth["label"][~member_kind].mean() < 0.03
    # the paper's Table 1 member fraction for these clusters, and 20-30 % blue members
    expected = sum(c.n_members for c in cfg.clusters) / sum(c.n_members + c.n_interlopers for c in cfg.clusters)
    assert member_kind.mean() == pytest.approx(expected, abs=0.02)
    assert 0.18 < (kind == "blue_member").sum() / member_kind.sum() < 0.32


def test_icl_halo_integrates_to_its_total_flux():
    """A de Vaucouleurs profile normalised by I_e = L / (8π e^{b4} b4^{-8} Γ(8) R_e²) holds L in total."""
    from scipy.special import gammainc

    img = icl_image(100.0, 20.0, 0.0, 0.0, size=1001, scale=1.0)  # a square of ±25 R_e
    # the light inside a circle of 25 R_e: L γ(8, b4 25^{1/4}) / Γ(8); the square's corners add a little
    inside = 100.0 * gammainc(8, 7.669 * 25**0.25)
    y, x = np.mgrid[:1001, :1001] - 500
    assert img[np.hypot(x, y) <= 500].sum() == pytest.approx(inside, rel=0.01)
    # and decreases away from the BCG: a source 10″ out along +x sees its −x side (nearer the BCG) brighter
    off = icl_image(100.0, 20.0, 10.0, 0.0, size=32, scale=0.065)
    assert off[:, 0].mean() > off[:, -1].mean()
    assert np.allclose(off[0], off[-1])  # symmetric about the line to the BCG


def test_pixels_carry_the_catalogued_flux(members_sim, members_cfg):
    """Noise-free total counts in the cutout ≈ the truth magnitude's flux (compact sources), every band."""
    sim_dir, truth = members_sim
    with h5py.File(sim_dir / "stamps.h5") as h5:
        images = h5["images"][:]
        channels = [c.decode() for c in h5["images"].attrs["channels"]]
    assert images.shape == (len(truth), 32, 32, 5)
    # NaN exactly where a band is not covered
    for j, band in enumerate(channels):
        assert np.array_equal(np.isnan(images[..., j]).all(axis=(1, 2)), ~np.asarray(truth[f"has_{band}"]))
    # the reference band: bright, compact, isolated sources hold most of their flux in the cutout
    zp = {b.name: b.zero_point_ab for b in members_cfg.bands}
    j = channels.index("F814W")
    sel = (truth["mag_F814W"] < 22.5) & (truth["re_arcsec"] < 0.35) & (truth["n_neighbours"] == 0)
    assert sel.sum() >= 2
    flux = 10 ** (-0.4 * (np.asarray(truth["mag_F814W"])[sel] - zp["F814W"]))
    ring = np.ones((32, 32), bool)
    ring[4:-4, 4:-4] = False
    stamp = images[sel][..., j]
    bkg = np.array([np.median(s[ring]) for s in stamp])
    measured = stamp.sum(axis=(1, 2)) - bkg * 32 * 32
    np.testing.assert_allclose(measured, flux, rtol=0.2)


def test_specs_are_deterministic_and_neighbours_count(members_cfg):
    grid = colour_grid(members_cfg)
    truth = draw_population(members_cfg, CosmologyParams(), grid, rng=np.random.default_rng(5))
    a, mags = build_specs(truth, members_cfg, grid, seed=9)
    b, _ = build_specs(truth, members_cfg, grid, seed=9)
    assert [len(s.neighbours) for s in a] == [len(s.neighbours) for s in b]
    np.testing.assert_allclose(mags["mag_F814W"], truth["mag_ref"], atol=1e-6)
