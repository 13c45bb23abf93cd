"""The instrument: Gaussian beams and white noise."""

import numpy as np
from pixell import enmap

from skysieve.sim._random import SeedLike, as_generator

__all__ = ["apply_beam", "beam_transfer", "white_noise"]

_FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


def beam_transfer(ell, fwhm_arcmin: float):
    """Harmonic transfer function of a Gaussian beam.

    .. math:: B_\\ell = \\exp\\left(-\\ell(\\ell+1)\\sigma^2/2\\right), \\qquad
              \\sigma = {\\rm FWHM}/\\sqrt{8\\ln 2}\\ \\text{(radians)}.

    Parameters
    ----------
    ell : float or array_like
        Multipoles.
    fwhm_arcmin : float
        Full width at half maximum, arcmin.

    Returns
    -------
    ndarray
        :math:`B_\\ell`, 1 at ℓ = 0.
    """
    sigma = np.deg2rad(fwhm_arcmin / 60.0) * _FWHM_TO_SIGMA
    ell = np.asarray(ell, dtype=np.float64)
    return np.exp(-0.5 * ell * (ell + 1.0) * sigma**2)


def apply_beam(imap: enmap.ndmap, fwhm_arcmin: float) -> enmap.ndmap:
    """Convolve a map with a Gaussian beam (in Fourier space, periodic boundaries).

    Parameters
    ----------
    imap : enmap.ndmap of shape (..., ny, nx)
        Any unit; must carry its WCS.
    fwhm_arcmin : float
        Beam FWHM, arcmin.

    Returns
    -------
    enmap.ndmap of shape (..., ny, nx), float64
        :math:`\\mathcal{F}^{-1}[B(|\\ell|)\\,\\mathcal{F}[m]]` with
        :func:`pixell.enmap.fft` and :func:`pixell.enmap.modlmap`; the integral
        (map sum) is preserved.  Signal within a few FWHM of one edge wraps to
        the opposite edge.
    """
    transfer = beam_transfer(enmap.modlmap(imap.shape, imap.wcs), fwhm_arcmin)
    return enmap.ifft(enmap.fft(imap) * transfer).real


def white_noise(shape, wcs, noise_uk_arcmin: float, *, seed: SeedLike) -> enmap.ndmap:
    """Gaussian white noise of a given map depth.

    Each pixel has :math:`\\sigma = N / \\sqrt{\\Omega_{\\rm pix}}` with N the depth
    in µK·arcmin and :math:`\\Omega_{\\rm pix}` the pixel's solid angle in arcmin²
    (i.e. noise / pixel side for square pixels); its power spectrum is flat,
    :math:`C_\\ell = N^2` (in µK² sr after converting arcmin² to sr).

    Parameters
    ----------
    shape, wcs
        The patch geometry.
    noise_uk_arcmin : float
        Depth N, µK_CMB·arcmin (0 gives a zero map).
    seed : int, SeedSequence or Generator

    Returns
    -------
    enmap.ndmap of shape (ny, nx), float64
        µK_CMB.
    """
    ny, nx = int(shape[-2]), int(shape[-1])
    rng = as_generator(seed)
    pixel_arcmin2 = np.asarray(enmap.pixsizemap((ny, nx), wcs, broadcastable=True)) * (180.0 * 60.0 / np.pi) ** 2
    sigma = noise_uk_arcmin / np.sqrt(pixel_arcmin2)
    return enmap.ndmap(rng.standard_normal((ny, nx)) * sigma, wcs)
