"""kSZ: electron temperature, optical depth and the sign and size of the signal."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from pixell import enmap

from skysieve.config import TszParams
from skysieve.sim import electron_temperature_kev, ksz_map, tau_over_y, tsz_map

ARCMIN2_PER_SR = (180 * 60 / np.pi) ** 2


def test_electron_temperature_self_similar(cosmo):
    h70 = cosmo.H0 / 70
    assert electron_temperature_kev(3.84e14 / h70, 0.0, cosmo) == pytest.approx(5.0, rel=1e-3)  # E(0) = 1
    assert electron_temperature_kev(8 * 3.84e14 / h70, 0.0, cosmo) == pytest.approx(20.0, rel=1e-3)  # M^(2/3)
    assert electron_temperature_kev(3e14, 1.0, cosmo) > electron_temperature_kev(3e14, 0.0, cosmo)


def test_tau_over_y_is_electron_rest_energy_over_temperature():
    assert tau_over_y(5.11) == pytest.approx(100.0, rel=1e-4)


def one_halo_table(ra, dec, v):
    return Table({"ra": [ra] * u.deg, "dec": [dec] * u.deg, "z": [0.5], "m500c": [3e14] * u.Msun,
                  "y5r500_arcmin2": [3e-4] * u.arcmin**2, "theta_c_arcmin": [0.5] * u.arcmin,
                  "theta500_arcmin": [2.5] * u.arcmin, "v_los_kms": [v] * u.km / u.s})


@pytest.mark.parametrize("v", [400.0, -250.0])
def test_ksz_sign_and_integral(cosmo, geometry, v):
    shape, wcs = geometry(128, 0.25)
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, [64, 64]))
    halos = one_halo_table(ra, dec, v)
    cfg = TszParams()
    b = ksz_map(shape, wcs, halos, cosmo, cfg)
    area = np.asarray(enmap.pixsizemap(shape, wcs)) * ARCMIN2_PER_SR
    t_e = electron_temperature_kev(3e14, 0.5, cosmo)
    expected = -(511.0 / t_e) * (v / 299792.458) * 3e-4  # arcmin²: -tau v/c integrated
    assert np.sum(b * area) == pytest.approx(expected, rel=0.01)
    assert np.sign(b[64, 64]) == -np.sign(v)  # receding cluster: decrement
    # Same shape as the tSZ, about a tenth of it at 148 GHz for a few hundred km/s.
    y = tsz_map(shape, wcs, halos, cfg)
    np.testing.assert_allclose(b, y * b[64, 64] / y[64, 64], rtol=1e-10, atol=1e-20)
    assert 0.02 < abs(b[64, 64] / y[64, 64]) < 0.3
