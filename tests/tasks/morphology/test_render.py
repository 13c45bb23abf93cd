"""Petrosian radius against the analytic profile, stamp resampling, sky noise from depth."""

import galsim
import numpy as np
import pytest
from scipy.optimize import brentq

from skysieve.tasks.morphology._render import cut_stamp, petrosian_radius_px, sky_sigma


def _analytic_exponential_rp(rs: float, eta: float) -> float:
    """r_P of I ∝ exp(−r/rs) with the module's annulus (0.8r … 1.25r): numerical integrals of the analytic profile."""
    def flux(r):  # ∫0^r 2π r' e^{-r'/rs} dr'
        x = r / rs
        return 2 * np.pi * rs**2 * (1 - np.exp(-x) * (1 + x))

    def ratio(r):
        ring = (flux(1.25 * r) - flux(0.8 * r)) / (np.pi * (1.25**2 - 0.8**2) * r**2)
        return ring / (flux(r) / (np.pi * r**2)) - eta

    return brentq(ratio, 0.1 * rs, 20 * rs)


@pytest.mark.parametrize("rs_px", [4.0, 7.0])
def test_petrosian_radius_of_an_exponential_matches_the_analytic_profile(rs_px):
    image = galsim.Exponential(scale_radius=rs_px).drawImage(nx=301, ny=301, scale=1.0, method="no_pixel").array
    measured = petrosian_radius_px(image, eta=0.2, r_max_px=110, n_radii=80)
    assert measured == pytest.approx(_analytic_exponential_rp(rs_px, 0.2), rel=0.03)


def test_pixel_centre_curve_of_growth_agrees_with_photutils_exact_apertures():
    """The curve of growth behind r_P (pixels binned by centre radius) against photutils' exact apertures."""
    from photutils.profiles import CurveOfGrowth

    image = galsim.Sersic(n=4, half_light_radius=6.0).drawImage(nx=101, ny=101, scale=1.0).array
    radii = np.array([4.0, 8.0, 16.0, 32.0])
    exact = CurveOfGrowth(image, (50, 50), radii, method="exact").profile
    yy, xx = np.mgrid[:101, :101] - 50
    mine = np.array([image[xx**2 + yy**2 <= r**2].sum() for r in radii])
    assert np.allclose(mine, exact, rtol=0.03)
    rp = petrosian_radius_px(image, eta=0.2)
    assert 8.0 < rp < 32.0  # a de Vaucouleurs r_P(η=0.2) is ~1.5–2.5 r_e


def test_cut_stamp_resamples_a_linear_ramp_exactly():
    y, x = np.mgrid[:101, :101].astype(float)
    image = 2 * x + 3 * y
    stamp = cut_stamp(image, side_px=40, stamp_px=20)
    step = 40 / 20
    coords = 50 + (np.arange(20) - 9.5) * step
    assert np.allclose(stamp, 2 * coords[None, :] + 3 * coords[:, None], atol=1e-4)


def test_sky_sigma_gives_five_sigma_at_the_depth_in_the_aperture():
    sigma = sky_sigma(27.0, 0.05)
    area = np.pi * (0.2 / 0.05) ** 2
    flux = 10 ** (-0.4 * (27.0 - 25.0))
    assert flux / (sigma * np.sqrt(area)) == pytest.approx(5.0)


def test_the_cached_psf_grid_renders_the_same_stamps_as_a_plain_moffat_and_is_reused(monkeypatch):
    """Field neighbours, three bands of two pixel scales, every class: bitwise the stamps of galsim.Moffat."""
    from skysieve.config import load_params
    from skysieve.tasks.morphology import _render
    from skysieve.tasks.morphology.sim import _draw_galaxy_truth, render_image

    cfg = load_params("params.yaml").simulate_morphology
    bands = [cfg.target.bands[i] for i in (4, 9, 15)] + [cfg.source.band]
    rng = np.random.default_rng(3)
    jobs = [(_draw_galaxy_truth(rng, cfg, i % 5, float(rng.uniform(19, 24))), bands[i % 4]) for i in range(40)]

    def render():
        return [render_image(g, band, cfg, rng=np.random.default_rng(i), neighbours_mean=1.2)["stamp"]
                for i, (g, band) in enumerate(jobs)]

    cached = _render.CachedKMoffat
    monkeypatch.setattr(cached, "_grids", {})
    drawn = []
    plain_draw = galsim.Moffat._drawKImage
    monkeypatch.setattr(galsim.Moffat, "_drawKImage", lambda self, image, jac=None: (
        drawn.append(1), plain_draw(self, image, jac))[1])
    with_cache = render()
    n_cached = len(drawn)
    monkeypatch.setattr(_render, "CachedKMoffat", galsim.Moffat)
    without = render()
    assert all(np.array_equal(a, b) for a, b in zip(with_cache, without))
    assert len(drawn) - n_cached == 40  # a plain Moffat is drawn for every image
    assert 4 <= n_cached <= 30  # the cache drew each (band, grid) once: at least one per band, fewer than the images
    assert len(cached._grids) == n_cached


def test_the_psf_grid_cache_stays_within_its_byte_budget(monkeypatch):
    from skysieve.tasks.morphology._render import CachedKMoffat

    monkeypatch.setattr(CachedKMoffat, "_grids", {})

    def draw(fwhm):
        galsim.Convolve(CachedKMoffat(beta=3.0, fwhm=fwhm), galsim.Gaussian(sigma=0.3)).drawImage(nx=64, ny=64,
                                                                                                scale=0.05)

    draw(0.1)
    one = next(iter(CachedKMoffat._grids.values())).nbytes  # every grid here has this size
    monkeypatch.setattr(CachedKMoffat, "MAX_BYTES", 3 * one)
    for fwhm in (0.12, 0.14, 0.16, 0.18):
        draw(fwhm)
    grids = CachedKMoffat._grids
    assert all(g.nbytes == one for g in grids.values())
    assert [k[1] for k in grids] == [0.14, 0.16, 0.18]  # three fit; the oldest went first


def test_the_default_folding_threshold_keeps_clean_images_within_a_fifth_of_the_sky_noise_of_an_accurate_draw():
    """Every class, source and target bands, a neighbour in a third: |Δ| < 0.2 σ_sky against folding 1e-3.

    The worst of these 30 is a point source at 5000 σ_sky with a neighbour: 0.13 σ_sky at 0.02 and 0.03, 0.08
    at the old 0.01 — 3e-5 of its peak.
    """
    from skysieve.config import load_params
    from skysieve.tasks.morphology import sim
    from skysieve.tasks.morphology._render import draw_galaxy

    cfg = load_params("params.yaml").simulate_morphology
    bands = [cfg.source.band, *cfg.target.bands]
    rng = np.random.default_rng(7)
    worst, relative, coarser = [], [], []
    for i in range(30):
        band = bands[0] if i % 2 == 0 else bands[1 + (i // 2) % 16]
        g = sim._draw_galaxy_truth(rng, cfg, i % 5, float(rng.uniform(19, 24.5)))
        pix, sigma = band.pixel_scale_arcsec, sky_sigma(band.depth_mag, band.pixel_scale_arcsec)
        size = sim.native_size_px(g, band)
        flux = 10 ** (-0.4 * (sim.band_magnitude(g, band) - 25.0))
        near = [(sim._draw_galaxy_truth(rng, cfg, 0, g.mag), 0.5 * flux, 4 * g.re_arcsec, 0.0)] if i % 3 == 0 else []

        def clean(ft):
            return draw_galaxy(g, flux=flux, psf_fwhm_arcsec=band.psf_fwhm_arcsec, pixel_scale_arcsec=pix,
                               sigma=sigma, size_px=size, neighbours=near, rng=np.random.default_rng(i),
                               folding_threshold=ft)[1]

        accurate = clean(1e-3)
        worst.append(np.abs(clean(cfg.folding_threshold) - accurate).max() / sigma)
        relative.append(worst[-1] * sigma / accurate.max())
        coarser.append(np.abs(clean(0.15) - accurate).max() / sigma)
    assert max(worst) < 0.2 and max(relative) < 1e-3  # and a thousandth of the image's peak
    assert max(coarser) > max(worst)  # the threshold matters: a much coarser grid is visibly further off
