"""Haloes down to 1e13 Msun: point-like unresolved Y, its mean against the mass-function integral."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from pixell import enmap

from skysieve.config import HaloParams, PatchParams, TszParams
from skysieve.sim import ksz_map, make_geometry, mean_compton_y, sample_halos, tsz_map

ARCMIN2_PER_SR = (180 * 60 / np.pi) ** 2


def test_mean_y_of_point_haloes_matches_the_mass_function_integral(cosmo):
    patch = PatchParams(width_deg=4.0, height_deg=4.0, pixel_arcmin=1.0)
    shape, wcs = make_geometry(patch)
    cfg = HaloParams(m_min_msun=1e13, m_max_msun=5e13, n_z=40)
    tsz = TszParams(point_below_msun=5e13, point_theta500_max_arcmin=1e3)  # every halo a point
    halos = sample_halos(shape, wcs, cfg, cosmo, seed=8, tsz=tsz)
    ymap = tsz_map(shape, wcs, halos, tsz)
    area = np.asarray(enmap.pixsizemap(shape, wcs)) * ARCMIN2_PER_SR
    y_sum = np.asarray(halos["y5r500_arcmin2"])
    assert np.sum(ymap * area) == pytest.approx(y_sum.sum(), rel=1e-9)  # each Y in one pixel, none lost
    omega = area.sum()
    mean = np.sum(ymap * area) / omega
    # A compound Poisson sum: its variance is Σ Y², estimated from the sample itself.
    sigma = np.sqrt(np.sum(y_sum**2)) / omega
    expected = mean_compton_y(cfg, cosmo, tsz, m_min_msun=1e13, m_max_msun=5e13)
    assert len(halos) > 5000
    assert abs(mean - expected) < 4 * sigma
    assert sigma / expected < 0.025  # the check is sharp: a 10 % error would fail it


def test_mean_y_integral_adds_up_over_mass_ranges(cosmo):
    cfg, tsz = HaloParams(), TszParams()
    low = mean_compton_y(cfg, cosmo, tsz, m_min_msun=1e13, m_max_msun=5e13)
    high = mean_compton_y(cfg, cosmo, tsz, m_min_msun=5e13, m_max_msun=5e15)
    total = mean_compton_y(cfg, cosmo, tsz, m_min_msun=1e13, m_max_msun=5e15)
    assert low + high == pytest.approx(total, rel=2e-3)
    assert 0.3 < low / high < 3  # haloes below 5e13 add a comparable mean y


def test_large_low_mass_haloes_keep_their_profile(geometry, cosmo):
    shape, wcs = geometry(128, 0.25)
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, np.array([[40.0, 90.0], [40.0, 90.0]])))
    halos = Table({"ra": ra * u.deg, "dec": dec * u.deg, "z": [0.1, 1.0], "m500c": [3e13, 3e13] * u.Msun,
                   "y5r500_arcmin2": [1e-4, 1e-5] * u.arcmin**2, "theta_c_arcmin": [0.6, 0.1] * u.arcmin,
                   "theta500_arcmin": [3.0, 0.5] * u.arcmin, "v_los_kms": [300.0, 300.0] * u.km / u.s})
    cfg = TszParams(point_below_msun=5e13, point_theta500_max_arcmin=1.0)
    y = np.asarray(tsz_map(shape, wcs, halos, cfg))
    near = y[35:46, 35:46]  # the nearby halo (θ500 = 3′): a profile, many pixels lit
    assert np.count_nonzero(near > 0.05 * near.max()) > 20
    far = y[85:96, 85:96]  # the small one: a single pixel
    assert np.count_nonzero(far) == 1 and far.sum() * 0.0625 == pytest.approx(1e-5, rel=1e-3)
    k = np.asarray(ksz_map(shape, wcs, halos, cosmo, cfg))
    assert np.count_nonzero(k[85:96, 85:96]) == 1  # the kSZ follows the same split
