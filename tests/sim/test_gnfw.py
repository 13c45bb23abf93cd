"""GNFW (A10) profiles: volume and cylinder integrals, painted Y, ellipticity, and the haloes' shapes."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from pixell import enmap
from scipy import integrate

from skysieve.config import GnfwParams, HaloParams, TszParams
from skysieve.errors import DataError
from skysieve.sim import ksz_map, sample_halos, tsz_map
from skysieve.sim.gnfw import gnfw_pressure, gnfw_projected, gnfw_volume_integral, paint_gnfw_profiles

ARCMIN2_PER_SR = (180 * 60 / np.pi) ** 2
A10 = GnfwParams()


def test_volume_integrals_match_arnaud_2010():
    # A10 (section 6, eq. 25-27): I(1) = 0.6145 and I(5) = 1.1037 for their universal profile.
    i1, i5 = gnfw_volume_integral(1.0, A10), gnfw_volume_integral(5.0, A10)
    assert i1 == pytest.approx(0.6145, rel=2e-3)
    assert i5 == pytest.approx(1.1037, rel=2e-3)
    # The Y-M default is A10's Y_sph(R500) normalisation (-4.739) moved to 5 R500 with this ratio.
    assert -4.739 + np.log10(i5 / i1) == pytest.approx(TszParams().log10_y_norm, abs=2e-3)


def test_pressure_is_the_gnfw_formula():
    x = np.array([0.01, 0.3, 1.0, 4.0])
    cx = 1.177 * x
    expected = 8.403 / (cx**0.3081 * (1 + cx**1.0510) ** ((5.4905 - 0.3081) / 1.0510))
    np.testing.assert_allclose(gnfw_pressure(x, A10), expected, rtol=1e-12)


@pytest.mark.parametrize("big_x", [0.2, 0.5, 1.0, 2.0, 5.0])
def test_cylinder_y_of_the_projection_equals_the_3d_integral(big_x):
    """∫ 2πX s(X) dX over X < X₀ against the 3-D profile: sphere minus the caps outside the cylinder.

    Y_cyl(X₀) = 4π ∫₀^{x_max} r² p dr − 4π ∫_{X₀}^{x_max} r² p √(1 − X₀²/r²) dr  (gas truncated at x_max = 5).
    """
    x_max = 5.0
    p = lambda r: gnfw_pressure(r, A10)  # noqa: E731
    total, _ = integrate.quad(lambda r: 4 * np.pi * r * r * p(r), 0, x_max, limit=200, epsrel=1e-10)
    outside, _ = integrate.quad(lambda r: 4 * np.pi * r * r * p(r) * np.sqrt(1 - (big_x / r) ** 2), big_x, x_max,
                                limit=200, epsrel=1e-10)
    x = np.concatenate([[0.0], np.geomspace(1e-5, big_x, 40001)])
    projected = np.trapezoid(2 * np.pi * x * gnfw_projected(x, A10, x_max=x_max), x)
    assert projected == pytest.approx(total - outside, rel=1e-3)


def centre_radec(shape, wcs, yx):
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, np.asarray(yx, dtype=float)))
    return ra, dec


@pytest.mark.parametrize(("theta500", "q", "offset"), [(2.0, 1.0, 0.0), (2.0, 0.5, 0.3), (0.4, 1.0, 0.5),
                                                       (1.0, 0.7, 0.25)])
def test_painted_y_is_the_amplitude(geometry, theta500, q, offset):
    shape, wcs = geometry(200, 0.25)
    ra, dec = centre_radec(shape, wcs, [100 + offset, 99 - offset])
    ymap = paint_gnfw_profiles(shape, wcs, ra, dec, 3e-4, theta500, A10, axis_ratio=q, position_angle_deg=30.0)
    area = np.asarray(enmap.pixsizemap(shape, wcs)) * ARCMIN2_PER_SR
    assert np.sum(ymap * area) == pytest.approx(3e-4, rel=1e-4)  # pixel-area row variation only


def test_painted_round_profile_follows_the_projection(geometry):
    shape, wcs = geometry(200, 0.25)
    ra, dec = centre_radec(shape, wcs, [100, 100])
    theta500 = 3.0
    ymap = np.asarray(paint_gnfw_profiles(shape, wcs, ra, dec, 1.0, theta500, A10))
    yy, xx = np.mgrid[:200, :200]
    r = np.hypot(yy - 100, xx - 100) * 0.25
    expected = gnfw_projected(r / theta500, A10) / (theta500**2 * 4 * np.pi / 3 * gnfw_volume_integral(5.0, A10))
    ring = (r > 1.0) & (r < 12.0)  # away from the sub-sampled centre and the truncation edge
    np.testing.assert_allclose(ymap[ring], expected[ring], rtol=0.02)


def second_moments_axis_ratio_and_angle(ymap, centre, pixel_arcmin):
    yy, xx = np.mgrid[: ymap.shape[0], : ymap.shape[1]]
    north = (yy - centre[0]) * pixel_arcmin
    east = -(xx - centre[1]) * pixel_arcmin  # RA grows to the left
    w = ymap / ymap.sum()
    cov = np.array([[np.sum(w * east * east), np.sum(w * east * north)],
                    [np.sum(w * east * north), np.sum(w * north * north)]])
    vals, vecs = np.linalg.eigh(cov)
    major = vecs[:, 1]
    return np.sqrt(vals[0] / vals[1]), np.degrees(np.arctan2(major[0], major[1])) % 180.0


@pytest.mark.parametrize(("q", "pa"), [(0.5, 30.0), (0.8, 120.0), (0.35, 90.0)])
def test_ellipticity_keeps_y_and_sets_the_axis_ratio_of_second_moments(geometry, q, pa):
    shape, wcs = geometry(240, 0.25)
    ra, dec = centre_radec(shape, wcs, [120, 120])
    area = np.asarray(enmap.pixsizemap(shape, wcs)) * ARCMIN2_PER_SR
    round_map = paint_gnfw_profiles(shape, wcs, ra, dec, 1e-4, 2.0, A10)
    ell = paint_gnfw_profiles(shape, wcs, ra, dec, 1e-4, 2.0, A10, axis_ratio=q, position_angle_deg=pa)
    assert np.sum(ell * area) == pytest.approx(np.sum(round_map * area), rel=1e-6)
    ratio, angle = second_moments_axis_ratio_and_angle(np.asarray(ell), (120, 120), 0.25)
    assert ratio == pytest.approx(q, rel=0.01)
    assert min(abs(angle - pa), 180 - abs(angle - pa)) < 1.0
    ratio_round, _ = second_moments_axis_ratio_and_angle(np.asarray(round_map), (120, 120), 0.25)
    assert ratio_round == pytest.approx(1.0, abs=0.005)


def test_bad_shapes_are_refused(geometry):
    shape, wcs = geometry(32, 0.25)
    with pytest.raises(DataError, match="axis_ratio"):
        paint_gnfw_profiles(shape, wcs, [0.0], [0.0], 1.0, 1.0, A10, axis_ratio=1.5)
    with pytest.raises(DataError, match="theta500_arcmin"):
        paint_gnfw_profiles(shape, wcs, [0.0], [0.0], 1.0, 0.0, A10)


def test_gnfw_haloes_are_the_beta_haloes_with_shapes(geometry, cosmo):
    shape, wcs = geometry(240, 0.5)
    beta = sample_halos(shape, wcs, HaloParams(), cosmo, seed=3)
    tsz = TszParams(profile="gnfw", gnfw=GnfwParams(axis_ratio_min=0.4))
    gnfw = sample_halos(shape, wcs, HaloParams(), cosmo, seed=3, tsz=tsz)
    for name in beta.colnames:
        np.testing.assert_array_equal(gnfw[name], beta[name])
    q, pa = np.asarray(gnfw["axis_ratio"]), np.asarray(gnfw["position_angle_deg"])
    assert len(gnfw) > 50 and np.all((q >= 0.4) & (q <= 1)) and np.all((pa >= 0) & (pa < 180))
    assert np.mean(q) == pytest.approx(0.7, abs=0.05)  # U(0.4, 1)


def test_tsz_and_ksz_maps_of_gnfw_haloes(geometry, cosmo):
    shape, wcs = geometry(160, 0.25)
    ra, dec = centre_radec(shape, wcs, [80, 80])
    halos = Table({"ra": [ra] * u.deg, "dec": [dec] * u.deg, "z": [0.5], "m500c": [3e14] * u.Msun,
                   "y5r500_arcmin2": [3e-4] * u.arcmin**2, "theta_c_arcmin": [0.5] * u.arcmin,
                   "theta500_arcmin": [2.5] * u.arcmin, "v_los_kms": [300.0] * u.km / u.s,
                   "axis_ratio": [0.6], "position_angle_deg": [45.0] * u.deg})
    cfg = TszParams(profile="gnfw")
    y = tsz_map(shape, wcs, halos, cfg)
    area = np.asarray(enmap.pixsizemap(shape, wcs)) * ARCMIN2_PER_SR
    assert np.sum(y * area) == pytest.approx(3e-4, rel=1e-4)
    ratio, angle = second_moments_axis_ratio_and_angle(np.asarray(y), (80, 80), 0.25)
    assert ratio == pytest.approx(0.6, rel=0.02) and angle == pytest.approx(45.0, abs=1.0)
    b = ksz_map(shape, wcs, halos, cosmo, cfg)
    np.testing.assert_allclose(b, y * b[80, 80] / y[80, 80], rtol=1e-10, atol=1e-20)  # same shape
    beta = tsz_map(shape, wcs, halos, TszParams())
    assert np.sum(beta * area) == pytest.approx(3e-4, rel=0.01)
    assert not np.allclose(beta, y)
