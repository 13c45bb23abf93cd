"""tSZ: spectral function, β-profile normalisation and painting, Y–M relation, R500."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from pixell import enmap
from scipy import constants, integrate, optimize

from skysieve.config import TszParams
from skysieve.errors import DataError
from skysieve.sim import (
    astropy_cosmology,
    beta_profile,
    beta_profile_area,
    paint_beta_profiles,
    r500_mpc,
    tsz_frequency_factor,
    tsz_map,
    y_m_relation,
)

ARCMIN2_PER_SR = (180 * 60 / np.pi) ** 2


def pixel_area_arcmin2(shape, wcs):
    return np.asarray(enmap.pixsizemap(shape, wcs)) * ARCMIN2_PER_SR


def test_frequency_factor_signs_across_deepsz_bands():
    f90, f148, f219 = tsz_frequency_factor(np.array([90.0, 148.0, 219.0]))
    assert f90 < f148 < 0  # decrement, strongest at 90 GHz
    assert abs(f219) < 0.05  # 219 GHz sits next to the null
    assert tsz_frequency_factor(353.0) > 1.0  # increment above the null


def test_frequency_factor_matches_analytic_value_and_null():
    x = constants.h * 148e9 / (constants.k * 2.7255)
    expected = x * (np.exp(x) + 1) / (np.exp(x) - 1) - 4
    assert tsz_frequency_factor(148.0) == pytest.approx(expected, rel=1e-9)
    null = optimize.brentq(tsz_frequency_factor, 150.0, 300.0)
    assert null == pytest.approx(217.5, abs=0.5)


def test_beta_profile_shape_and_truncation():
    theta = np.array([0.0, 1.0, 2.0, 4.99, 5.0, 7.0])
    p = beta_profile(theta, 1.0, theta_max_arcmin=5.0)
    np.testing.assert_allclose(p[:4], 1 / (1 + theta[:4] ** 2))
    np.testing.assert_array_equal(p[4:], 0.0)


@pytest.mark.parametrize("theta_c", [0.05, 0.7, 3.0])
def test_beta_profile_area_equals_numerical_integral(theta_c):
    theta_max = 12.0
    numeric, _ = integrate.quad(lambda t: 2 * np.pi * t / (1 + (t / theta_c) ** 2), 0, theta_max, limit=200)
    assert beta_profile_area(theta_c, theta_max) == pytest.approx(numeric, rel=1e-8)


# θc from a tenth of a 0.25′ pixel to 8 pixels; centres on, between and off pixel centres.
@pytest.mark.parametrize("theta_c", [0.025, 0.1, 0.25, 0.6, 2.0])
@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.3, -0.2), (0.5, 0.5)])
def test_painted_integral_equals_amplitude(geometry, theta_c, offset):
    shape, wcs = geometry(256 if theta_c < 1 else 512, 0.25)
    cy, cx = shape[0] // 2 + offset[0], shape[1] // 2 + offset[1]
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, [cy, cx]))
    y_total = 3.7e-4  # arcmin²
    ymap = paint_beta_profiles(shape, wcs, [ra], [dec], [y_total], theta_c, 25 * theta_c)
    painted = float(np.sum(ymap * pixel_area_arcmin2(shape, wcs)))
    assert painted == pytest.approx(y_total, rel=0.01)
    iy, ix = np.unravel_index(np.argmax(ymap), shape)
    assert (iy, ix) == (int(np.rint(cy)), int(np.rint(cx)))


@pytest.mark.parametrize("theta_c", [0.01, 0.1, 0.4])
def test_central_pixel_holds_the_exact_pixel_integral(geometry, theta_c):
    # A core much smaller than the pixel keeps its flux in the central pixel.
    shape, wcs = geometry(64, 0.25)
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, [32.2, 31.9]))
    theta_max = 2.0
    ymap = paint_beta_profiles(shape, wcs, [ra], [dec], [1.0], theta_c, theta_max)
    half = 0.125
    dy, dx = -0.2 * 0.25, 0.1 * 0.25  # pixel centre relative to the profile centre, arcmin
    exact, _ = integrate.dblquad(lambda y, x: 1 / (1 + (x * x + y * y) / theta_c**2),
                                 dx - half, dx + half, dy - half, dy + half, epsabs=1e-13)
    value = ymap[32, 32] * pixel_area_arcmin2(shape, wcs)[32, 32]
    assert value == pytest.approx(exact / beta_profile_area(theta_c, theta_max), rel=1e-3)


def test_painted_profile_follows_analytic_shape_away_from_centre(geometry):
    shape, wcs = geometry(128, 0.25)
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, [64.3, 63.6]))
    theta_c, theta_max = 1.0, 10.0
    ymap = np.asarray(paint_beta_profiles(shape, wcs, [ra], [dec], [1.0], theta_c, theta_max))
    pos = enmap.posmap(shape, wcs)
    r = np.degrees(np.hypot(pos[0] - np.radians(dec), (pos[1] - np.radians(ra)) * np.cos(pos[0]))) * 60
    model = beta_profile(r, theta_c, theta_max_arcmin=theta_max) / beta_profile_area(theta_c, theta_max)
    far = (r > 1.9) & (r < 9.5)  # beyond the sub-sampled block of ±5 pixels
    np.testing.assert_allclose(ymap[far], model[far], rtol=1e-3)


def test_painting_is_additive_and_clips_at_the_edge(geometry):
    shape, wcs = geometry(64, 0.25)
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, np.array([[20.0, 40.0], [20.0, 50.0]])))
    both = paint_beta_profiles(shape, wcs, ra, dec, [1.0, -0.5], [0.3, 0.5], [3.0, 4.0])
    one = paint_beta_profiles(shape, wcs, ra[:1], dec[:1], [1.0], 0.3, 3.0)
    two = paint_beta_profiles(shape, wcs, ra[1:], dec[1:], [-0.5], 0.5, 4.0)
    np.testing.assert_allclose(both, one + two, atol=1e-12)
    # Centred on the edge: about half of the profile falls in the map.
    dec0, ra0 = np.degrees(enmap.pix2sky(shape, wcs, [32.0, -0.5]))
    edge = paint_beta_profiles(shape, wcs, [ra0], [dec0], [1.0], 0.5, 5.0)
    assert np.sum(edge * pixel_area_arcmin2(shape, wcs)) == pytest.approx(0.5, abs=0.02)


def test_paint_rejects_bad_radii(geometry):
    shape, wcs = geometry(16, 0.25)
    with pytest.raises(DataError, match="must be > 0"):
        paint_beta_profiles(shape, wcs, [15.0], [0.0], [1.0], 0.0, 1.0)


def test_y_m_relation_normalisation_slope_and_scatter(cosmo):
    cfg = TszParams()
    astro = astropy_cosmology(cosmo)
    h70 = cosmo.H0 / 70
    m_pivot = 3e14 / h70
    z = 0.5
    y = y_m_relation(m_pivot, z, cosmo, cfg)
    d_a = astro.angular_diameter_distance(z).to_value(u.Mpc)
    lhs = astro.efunc(z) ** (-2 / 3) * d_a**2 * y / ARCMIN2_PER_SR  # Mpc²
    assert lhs == pytest.approx(10**cfg.log10_y_norm * h70**-2.5, rel=1e-10)
    ratio = y_m_relation(2 * m_pivot, z, cosmo, cfg) / y
    assert ratio == pytest.approx(2**cfg.y_m_slope, rel=1e-10)
    draws = y_m_relation(np.full(20000, m_pivot), z, cosmo, cfg, rng=5)
    assert np.std(np.log10(draws / y)) == pytest.approx(cfg.scatter_dex, rel=0.03)
    assert np.mean(np.log10(draws / y)) == pytest.approx(0.0, abs=0.003)


def test_y_m_relation_gives_typical_cluster_signal(cosmo):
    # A 3e14 Msun cluster at z = 0.5 has Y_5R500 of a few 1e-4 arcmin² (SPT-like clusters).
    y = y_m_relation(3e14, 0.5, cosmo, TszParams())
    assert 1e-4 < y < 6e-4


def test_r500_from_critical_density(cosmo):
    h = cosmo.H0 * 1e3 / (constants.parsec * 1e6)  # s⁻¹
    rho_c0 = 3 * h**2 / (8 * np.pi * constants.G)  # kg m⁻³ (no radiation at z = 0 needed)
    msun = 1.98840987e30
    mpc = constants.parsec * 1e6
    expected = (3 * 1e15 * msun / (4 * np.pi * 500 * rho_c0)) ** (1 / 3) / mpc
    assert r500_mpc(1e15, 0.0, cosmo) == pytest.approx(expected, rel=1e-4)
    assert r500_mpc(1e15, 1.0, cosmo) < r500_mpc(1e15, 0.0, cosmo)


def test_tsz_map_integrates_to_catalogue_y(geometry):
    shape, wcs = geometry(128, 0.25)
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, np.array([[40.0, 80.0], [50.0, 70.0]])))
    halos = Table({"ra": ra * u.deg, "dec": dec * u.deg, "y5r500_arcmin2": [2e-4, 5e-5] * u.arcmin**2,
                   "theta_c_arcmin": [0.4, 0.1] * u.arcmin, "theta500_arcmin": [2.0, 0.5] * u.arcmin})
    ymap = tsz_map(shape, wcs, halos, TszParams())
    assert np.sum(ymap * pixel_area_arcmin2(shape, wcs)) == pytest.approx(2.5e-4, rel=0.01)
    with pytest.raises(DataError, match="theta500_arcmin"):
        tsz_map(shape, wcs, halos[["ra", "dec"]], TszParams())
