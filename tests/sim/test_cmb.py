"""CMB: the CAMB spectrum (one low-lmax call) and Gaussian realisations of a spectrum."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from skysieve.config import CmbSpectrumParams
from skysieve.errors import DataError
from skysieve.sim import cl_from_table, cmb_map, compute_cmb_spectrum


@pytest.fixture(scope="module")
def camb_cl(cosmo) -> Table:
    return compute_cmb_spectrum(cosmo, CmbSpectrumParams(lmax=2000, lens_potential_accuracy=0))


def test_camb_spectrum_table_and_first_peak(camb_cl):
    assert camb_cl.colnames == ["ell", "cl_tt"]
    assert camb_cl["ell"].dtype.kind == "i"
    np.testing.assert_array_equal(camb_cl["ell"], np.arange(2001))
    assert camb_cl["cl_tt"].unit == u.uK**2
    cl = np.asarray(camb_cl["cl_tt"])
    assert cl[0] == 0 and cl[1] == 0 and np.all(cl[2:] > 0)
    ell = np.arange(2001)
    d_ell = ell * (ell + 1) * cl / (2 * np.pi)
    # Planck 2018: first acoustic peak at ell ~ 220 with D_ell ~ 5700 µK²; C_ell (not D_ell) is stored.
    assert 210 <= np.argmax(d_ell) <= 230
    assert 5300 < d_ell.max() < 6100
    assert cl[10] > 100 * cl[1500]


def test_cmb_map_power_matches_input_within_cosmic_variance(geometry, powerlaw_cl, power_spectrum):
    shape, wcs = geometry(256, 1.0)  # 4.3° at 1′: ell from 84 to ~10800
    imap = cmb_map(shape, wcs, powerlaw_cl, seed=3)
    edges = np.array([150, 300, 600, 1000, 1500, 2500, 4000, 6000, 9000])
    _, measured, n_modes, model = power_spectrum(imap, edges, model=cl_from_table(powerlaw_cl))
    sigma = np.sqrt(2.0 / n_modes)  # real field: n_modes / 2 independent complex modes
    ratio = measured / model
    assert np.all(np.abs(ratio - 1) < 4 * sigma + 0.03), (ratio, sigma)
    chi2 = np.sum(((ratio - 1) / sigma) ** 2)
    assert chi2 < 25  # 8 bins


def test_cmb_map_pixel_variance_matches_spectrum_integral(geometry, powerlaw_cl):
    shape, wcs = geometry(128, 1.0)
    cl = cl_from_table(powerlaw_cl)
    # sum of C over the Fourier grid / patch area = expected pixel variance
    from pixell import enmap

    expected = np.sum(cl(enmap.modlmap(shape, wcs))) / enmap.area(shape, wcs)
    variances = [np.var(cmb_map(shape, wcs, powerlaw_cl, seed=s)) for s in range(12)]
    assert np.mean(variances) == pytest.approx(expected, rel=0.15)


def test_cmb_map_seeded(geometry, powerlaw_cl):
    shape, wcs = geometry(32, 0.5)
    a = cmb_map(shape, wcs, powerlaw_cl, seed=1)
    b = cmb_map(shape, wcs, powerlaw_cl, seed=1)
    c = cmb_map(shape, wcs, powerlaw_cl, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == shape and a.wcs is not None


def test_cl_table_read_back_from_fits_without_quantity(tmp_path, powerlaw_cl):
    path = tmp_path / "cl.fits"
    powerlaw_cl.write(path)
    cl = cl_from_table(Table.read(path))
    assert cl(np.array([500.0]))[0] == pytest.approx(1e3)
    assert cl(np.array([20000.0]))[0] == 0.0  # beyond the table


def test_cl_table_missing_column_is_a_data_error():
    with pytest.raises(DataError, match="no 'cl_tt' column"):
        cl_from_table(Table({"ell": np.arange(10), "cl": np.ones(10)}))
