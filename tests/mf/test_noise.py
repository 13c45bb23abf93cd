"""Noise covariance of the matched filter: the DeepSZ model and the estimate from the maps."""

import numpy as np
import pytest
import scipy.fft

from skysieve.errors import ConfigError
from skysieve.mf import MapNoise, ModelNoise, invert_noise
from skysieve.mf._fourier import fourier_grid
from skysieve.sim.cmb import cl_from_table
from skysieve.sim.instrument import beam_transfer
from tests.mf.conftest import BANDS, BEAMS, FREQS, WHITE, make_sky, model_noise

ARCMIN = np.pi / 180 / 60


def spectra_of(noise, sky):
    grid = fourier_grid(sky.data.shape[-2:], sky.wcs)
    dft = scipy.fft.rfft2(sky.data.astype(np.float64))
    return grid, noise.spectra(grid=grid, bands=sky.bands, freqs_ghz=FREQS,
                               beam_fwhm_arcmin=[BEAMS[b] for b in BANDS], dft=dft)


def test_model_is_a_full_matrix_with_the_cmb_common_to_all_bands(toy_cl):
    _, spec = spectra_of(model_noise(cmb=toy_cl), make_sky((64, 64)))
    ell = 500
    beams = np.array([beam_transfer(ell, BEAMS[b]) for b in BANDS])
    cmb = cl_from_table(toy_cl)(np.array([ell]))[0]
    np.testing.assert_allclose(spec.cl[0, 1, ell], beams[0] * beams[1] * cmb, rtol=1e-9)
    white = (WHITE["219GHz"] * ARCMIN) ** 2
    np.testing.assert_allclose(spec.cl[2, 2, ell], beams[2] ** 2 * cmb + white, rtol=1e-9)
    np.testing.assert_allclose(spec.cl, np.swapaxes(spec.cl, 0, 1))


def test_model_foregrounds_follow_deepsz_levels():
    noise = ModelNoise(white_noise_uk_arcmin={b: 0.0 for b in BANDS}, ps_d3000_uk2={"90GHz": 2.7, "148GHz": 8.8,
                       "219GHz": 71.0}, sz_d3000_uk2=3.6, ksz_d3000_uk2=0.0)
    _, spec = spectra_of(noise, make_sky((64, 64)))
    d3000 = spec.cl[:, :, 3000] * 3000 * 3001 / (2 * np.pi)
    beams2 = np.array([beam_transfer(3000, BEAMS[b]) ** 2 for b in BANDS])
    deconv = np.diag(d3000) / beams2
    from skysieve.sim.tsz import tsz_frequency_factor

    f = np.array([tsz_frequency_factor(nu) for nu in FREQS])
    expected = np.array([2.7, 8.8, 71.0]) + 3.6 * (f / f[0]) ** 2
    np.testing.assert_allclose(deconv, expected, rtol=1e-9)
    assert d3000[0, 2] != 0  # the tSZ background is correlated across bands


def test_model_without_a_band_level_names_the_key():
    noise = ModelNoise(white_noise_uk_arcmin=WHITE, ps_d3000_uk2={"90GHz": 2.7, "148GHz": 8.8})
    with pytest.raises(ConfigError, match=r"mf_sz.ps_d3000_uk2: no entry for band\(s\) \['219GHz'\]"):
        spectra_of(noise, make_sky((64, 64)))


def test_map_estimate_recovers_white_noise_and_cmb_correlation(toy_cl):
    sky = make_sky((512, 512), seed=1, cmb=toy_cl)
    grid, spec = spectra_of(MapNoise(), sky)
    _, model = spectra_of(model_noise(cmb=toy_cl), sky)
    table = spec.tabulate(grid.lmax)
    for ell in (8000, 20000, 40000):  # auto spectra: CMB tail, then white noise
        np.testing.assert_allclose(np.diag(table[:, :, ell]), np.diag(model.cl[:, :, ell]), rtol=0.1)
    # cross spectrum: the CMB, common to the bands (within its sample variance on a 2° patch)
    np.testing.assert_allclose(table[0, 1, 2000], model.cl[0, 1, 2000], rtol=0.2)


def test_map_estimate_is_positive_definite_even_at_the_fundamental(toy_cl):
    """Few modes at low ℓ: the windows widen until min_modes, so the estimate stays invertible."""
    sky = make_sky((128, 128), seed=2, cmb=toy_cl)
    _, spec = spectra_of(MapNoise(min_modes=200), sky)
    eig = np.linalg.eigvalsh(np.moveaxis(spec.cl, -1, 0))
    assert np.all(eig[:, 0] > 1e-6 * eig[:, -1])


def test_invert_noise_inverts_every_mode():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 3, 3))
    p = np.einsum("lij,lkj->ikl", a, a) + 0.1 * np.eye(3)[:, :, None]
    inv = invert_noise(p)
    np.testing.assert_allclose(np.einsum("lij,jkl->lik", inv, p), np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-8)
