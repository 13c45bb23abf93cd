"""The detect simulator's physics against analytic results and independent libraries."""

import numpy as np
import pytest
from astropy import units as u
from scipy import integrate, stats

from skysieve.config._sim import CosmologyParams
from skysieve.sim.cosmo import astropy_cosmology
from skysieve.tasks.detect._clusters import (
    apparent_mag_r,
    bcg_mean_abs_mag_r,
    halo,
    nfw_cumulative,
    red_sequence_colours,
    sample_nfw_projected,
    sample_schechter,
)
from skysieve.tasks.detect.params import SimulateDetectParams
from skysieve.tasks.detect.sim import _Canvas, flux_nmgy, simulate_field, sky_sigma_nmgy

COSMO = CosmologyParams()


def test_r200_is_the_radius_enclosing_200_rho_crit():
    acosmo = astropy_cosmology(COSMO)
    h = halo(3e14, 0.25, cosmo=COSMO, astropy_cosmo=acosmo)
    rho_c = acosmo.critical_density(0.25).to(u.Msun / u.kpc**3).value
    expected = (3 * 3e14 / (4 * np.pi * 200 * rho_c)) ** (1 / 3)
    assert h.r200_kpc == pytest.approx(expected, rel=2e-3)
    assert 2.5 < h.concentration < 6.0  # Duffy et al. (2008) at 3e14 M☉
    da = acosmo.angular_diameter_distance(0.25).to_value(u.kpc)
    assert h.r200_arcsec == pytest.approx(np.degrees(expected / da) * 3600, rel=2e-3)


def test_nfw_cumulative_matches_integrated_density():
    c = 4.0
    rho = lambda r: 1.0 / (c * r * (1 + c * r) ** 2)  # noqa: E731
    total = integrate.quad(lambda r: rho(r) * r**2, 0, 1)[0]
    for x in (0.1, 0.3, 0.7):
        assert nfw_cumulative(x, c) == pytest.approx(integrate.quad(lambda r: rho(r) * r**2, 0, x)[0] / total,
                                                     rel=1e-6)


def test_projected_nfw_members_follow_the_profile():
    rng = np.random.default_rng(0)
    c = 4.0
    xy = sample_nfw_projected(3000, c=c, rng=rng)
    r_proj = np.hypot(*xy.T)
    assert r_proj.max() <= 1.0
    # the projected CDF of an NFW truncated at R200, by Monte Carlo of the analytic 3-d CDF (independent draws)
    u3 = rng.random(40000)
    grid = np.linspace(0, 1, 4001)
    r3 = np.interp(u3, nfw_cumulative(grid, c), grid)
    ref = r3 * np.sqrt(1 - rng.uniform(-1, 1, r3.size) ** 2)
    assert stats.ks_2samp(r_proj, ref).pvalue > 0.01


def test_schechter_sample_follows_the_function():
    rng = np.random.default_rng(1)
    m = sample_schechter(5000, mstar=-21.5, alpha=-1.0, faint=-19.0, rng=rng)
    assert m.min() >= -24.5 and m.max() <= -19.0
    pdf = lambda x: (10 ** (0.4 * (-21.5 - x))) ** 0.0 * np.exp(-(10 ** (0.4 * (-21.5 - x))))  # noqa: E731
    norm = integrate.quad(pdf, -24.5, -19.0)[0]
    cdf = np.vectorize(lambda x: integrate.quad(pdf, -24.5, x)[0] / norm)
    assert stats.kstest(m, cdf).pvalue > 0.01


def test_magnitudes_colours_and_depth():
    acosmo = astropy_cosmology(COSMO)
    assert apparent_mag_r(-22.0, 0.2, astropy_cosmo=acosmo) == pytest.approx(
        -22.0 + acosmo.distmod(0.2).value + 0.22)
    # passive evolution: brighter by Q z at redshift z, nothing today
    assert apparent_mag_r(-22.0, 0.3, astropy_cosmo=acosmo, evolution_q=1.0) == pytest.approx(
        apparent_mag_r(-22.0, 0.3, astropy_cosmo=acosmo) - 0.3)
    gr, ri = red_sequence_colours(np.array([0.1, 0.4]))
    assert gr[1] > gr[0] and ri[1] > ri[0]  # the red sequence reddens with z
    assert flux_nmgy(22.5) == pytest.approx(1.0)
    sigma = sky_sigma_nmgy(22.2, fwhm_arcsec=1.4, pixel_arcsec=0.396)
    nea = 4 * np.pi * (1.4 / 2.3548 / 0.396) ** 2
    assert 5 * sigma * np.sqrt(nea) == pytest.approx(flux_nmgy(22.2))


def test_bcg_brightens_with_cluster_mass_as_lin_and_mohr():
    # L_BCG ∝ M^0.26: ten times the mass, 10^0.26 = 1.82 times the light, 0.65 mag
    mean = bcg_mean_abs_mag_r(np.array([3e13, 3e14, 3e15]), at_pivot=-23.0, slope=0.26, pivot_m200=3e14)
    assert mean[1] == pytest.approx(-23.0)
    assert 10 ** (-0.4 * (mean[2] - mean[1])) == pytest.approx(10 ** 0.26)
    assert mean[0] - mean[1] == pytest.approx(0.65)
    assert bcg_mean_abs_mag_r(1e15, at_pivot=-23.0, slope=0.0, pivot_m200=3e14) == pytest.approx(-23.0)


def test_simulated_bcgs_follow_mass_and_evolution():
    cfg = SimulateDetectParams.model_validate({"native_size_px": 128, "bin": 2, "field_galaxies_per_arcmin2": 0,
                                               "stars_per_arcmin2": 0, "cluster": {"richness_range": [20, 21]}})
    acosmo = astropy_cosmology(COSMO)
    cc = cfg.cluster

    def bcg_mags(config, clusters, seeds):
        return np.array([[row["bcg_mag_r"] for row in simulate_field(config, cosmo=COSMO, index=0, n_clusters=0,
                                                                       centre=(150.0, 2.0), seed=s,
                                                                       clusters=clusters).clusters]
                         for s in seeds])

    # passive evolution: the same draw, brighter by exactly Q z (the BCG is the field's first draw)
    frozen = cfg.model_copy(update={"cluster": cc.model_copy(update={"evolution_q": 0.0})})
    for z in (0.15, 0.35):
        diff = bcg_mags(frozen, [(3e14, z)], [5]) - bcg_mags(cfg, [(3e14, z)], [5])
        assert diff[0, 0] == pytest.approx(cc.evolution_q * z, abs=1e-9)
    # the mass relation: 30 draws of 0.3 mag scatter average to it within 4 standard errors (0.22 mag)
    clusters = [(1e14, 0.15), (1e15, 0.15), (3e14, 0.35)]
    mags = bcg_mags(cfg, clusters, range(30))
    expect = [apparent_mag_r(bcg_mean_abs_mag_r(m, at_pivot=cc.bcg_abs_mag_r, slope=cc.bcg_mass_slope,
                                                pivot_m200=cc.bcg_pivot_m200), z, astropy_cosmo=acosmo,
                             evolution_q=cc.evolution_q) for m, z in clusters]
    assert np.all(np.abs(mags.mean(axis=0) - np.array(expect)) < 4 * cc.bcg_scatter_mag / np.sqrt(30))
    assert mags[:, 0].mean() - mags[:, 1].mean() > 0.4  # the 1e15 BCG is brighter than the 1e14 one (0.65 mag)


def test_canvas_conserves_flux_and_centres_objects():
    cfg = SimulateDetectParams(native_size_px=512, bin=8)
    canvas = _Canvas(cfg, 64)
    canvas.add(30.25, 20.75, {b: 2.0 for b in "gri"}, hlr_arcsec=1.5, sersic=4)
    img = canvas.images["r"]
    assert img.sum() == pytest.approx(2.0 * 0.97, rel=0.03)  # drawn out to 8 r_e
    yy, xx = np.mgrid[:64, :64]
    assert (img * xx).sum() / img.sum() == pytest.approx(30.25, abs=0.15)
    assert (img * yy).sum() / img.sum() == pytest.approx(20.75, abs=0.15)


def test_field_noise_and_truth():
    cfg = SimulateDetectParams(native_size_px=512, bin=8, field_galaxies_per_arcmin2=0.0, stars_per_arcmin2=0.0)
    f = simulate_field(cfg, cosmo=COSMO, index=3, n_clusters=0, centre=(150.0, 2.0), seed=4)
    assert f.clusters == [] and f.images["r"].shape == (64, 64)
    for b, img in f.images.items():
        mad = 1.4826 * np.median(np.abs(img - np.median(img)))
        assert mad == pytest.approx(f.sigma_nmgy[b], rel=0.1)
    g = simulate_field(cfg, cosmo=COSMO, index=3, n_clusters=0, centre=(150.0, 2.0), seed=4,
                       clusters=[(5e14, 0.2)])
    (t,) = g.clusters
    assert t["m200_msun"] == 5e14 and t["z"] == 0.2 and 20 <= t["richness"] <= 100
    assert t["box_x0"] <= t["x_px"] <= t["box_x1"] and t["box_y0"] <= t["y_px"] <= t["box_y1"]
    x, y = int(round(t["x_px"])), int(round(t["y_px"]))
    # the BCG sits at the centre: the r image there is far above the noise
    assert g.images["r"][y, x] > 20 * g.sigma_nmgy["r"]


def test_fields_do_not_depend_on_the_number_of_workers(tmp_path):
    """Every field has its own seed: two worker processes write the same files and tables as one."""
    from astropy.io import fits
    from astropy.table import Table

    from skysieve.tasks.detect._write import simulate_fields

    cfg = SimulateDetectParams(native_size_px=256, bin=8, n_fields=5, field_galaxies_per_arcmin2=2.0,
                               stars_per_arcmin2=0.5)
    out = {}
    for workers in (1, 2):
        d = tmp_path / f"w{workers}"
        d.mkdir()
        fields, truth = simulate_fields(cfg, cosmo=COSMO, out_dir=d, seed=7, progress=False, workers=workers)
        out[workers] = (d, fields, truth)
    (d1, f1, t1), (d2, f2, t2) = out[1], out[2]
    assert len(t1) > 0 and list(f1["field"]) == list(range(5))
    for name in f1.colnames:
        assert list(f1[name]) == list(f2[name]), name
    for name in t1.colnames:
        np.testing.assert_array_equal(t1[name], t2[name])
    for row in f1:
        for b in ("g", "r", "i"):
            a, c = (fits.getdata(d / row[f"file_{b}"]) for d in (d1, d2))
            np.testing.assert_array_equal(a, c)
    assert len(Table.read(d2 / "truth.fits")) == len(t1)
