"""Instrument: Gaussian beam and white noise."""

import numpy as np
import pytest
from pixell import enmap

from skysieve.sim import apply_beam, beam_transfer, white_noise

ARCMIN = np.pi / (180 * 60)


def test_beam_transfer_gaussian_in_ell():
    fwhm = 1.2
    sigma = fwhm * ARCMIN / np.sqrt(8 * np.log(2))
    assert beam_transfer(0, fwhm) == 1.0
    ell = np.array([1000.0, 5000.0])
    np.testing.assert_allclose(beam_transfer(ell, fwhm), np.exp(-ell * (ell + 1) * sigma**2 / 2))
    assert beam_transfer(5000.0, 1.7) < beam_transfer(5000.0, 1.2)


@pytest.mark.parametrize("fwhm", [1.1, 1.7])
def test_beamed_point_source_has_the_beam_width_and_keeps_its_flux(geometry, fwhm):
    shape, wcs = geometry(128, 0.25)
    delta = enmap.zeros(shape, wcs)
    delta[64, 64] = 1.0
    beamed = np.asarray(apply_beam(delta, fwhm))
    assert beamed.sum() == pytest.approx(1.0, rel=1e-10)
    y, x = np.indices(shape)
    var_x = np.sum(beamed * (x - 64) ** 2) / beamed.sum() * 0.25**2  # arcmin²
    var_y = np.sum(beamed * (y - 64) ** 2) / beamed.sum() * 0.25**2
    sigma = fwhm / np.sqrt(8 * np.log(2))
    assert np.sqrt(var_x) == pytest.approx(sigma, rel=0.01)
    assert np.sqrt(var_y) == pytest.approx(sigma, rel=0.01)
    # half maximum at FWHM / 2 along an axis (interpolated between pixels)
    profile = beamed[64, 64:] / beamed[64, 64]
    r_half = np.interp(0.5, profile[::-1], np.arange(len(profile))[::-1] * 0.25)
    assert 2 * r_half == pytest.approx(fwhm, rel=0.03)


@pytest.mark.parametrize("noise", [2.6, 6.6])
def test_white_noise_matches_depth_in_pixels_and_power(geometry, power_spectrum, noise):
    shape, wcs = geometry(256, 0.25)
    nmap = white_noise(shape, wcs, noise, seed=11)
    pixel_side = np.sqrt(enmap.pixsize(shape, wcs)) / ARCMIN
    assert np.std(nmap) * pixel_side == pytest.approx(noise, rel=0.02)  # 65536 pixels: 0.3 % error
    _, cl, _, _ = power_spectrum(nmap, np.array([2000.0, 10000.0, 40000.0]))
    np.testing.assert_allclose(cl, (noise * ARCMIN) ** 2, rtol=0.05)  # flat C_ell = depth²


def test_white_noise_seeded_and_zero_depth(geometry):
    shape, wcs = geometry(16, 0.25)
    np.testing.assert_array_equal(white_noise(shape, wcs, 3.0, seed=4), white_noise(shape, wcs, 3.0, seed=4))
    assert not np.allclose(white_noise(shape, wcs, 3.0, seed=4), white_noise(shape, wcs, 3.0, seed=5))
    assert np.all(white_noise(shape, wcs, 0.0, seed=4) == 0)
