"""Gaussian random fields on a flat-sky CAR patch (internal).

Used by :mod:`skysieve.sim.cmb` and :mod:`skysieve.sim.dust`.  A field with
angular power spectrum :math:`C_\\ell` (sr units) is made by colouring real white
noise in Fourier space:

.. math:: m = \\mathcal{F}^{-1}\\left[\\mathcal{F}[w]\\,\\sqrt{C(|\\ell|)/\\Omega_{\\rm pix}}\\right],
          \\qquad w \\sim \\mathcal{N}(0, 1)\\ \\text{per pixel},

with :math:`\\Omega_{\\rm pix}` the mean pixel solid angle.  The wavenumbers are
those of :func:`pixell.enmap.laxes`, so the field is periodic on the patch and
its variance is :math:`\\sum_{\\boldsymbol\\ell} C(|\\boldsymbol\\ell|)/\\Omega_{\\rm patch}
\\approx \\int d^2\\ell\\, C_\\ell / (2\\pi)^2`.
"""

from collections.abc import Callable

import numpy as np
from pixell import enmap

from skysieve._flatsky import ell_grid

__all__ = ["field_variance", "gaussian_field", "rfft_modlmap"]


def rfft_modlmap(shape: tuple[int, int], wcs) -> np.ndarray:
    """|ℓ| on the half-plane grid of :func:`numpy.fft.rfft2`, shape ``(ny, nx // 2 + 1)``.

    Pixel sides as :func:`pixell.enmap.laxes` measures them (the patch extent over its shape).
    """
    step = enmap.extent(shape, wcs, signed=True) / shape[-2:]
    return ell_grid(shape, dy_rad=step[0], dx_rad=step[1])


def field_variance(shape: tuple[int, int], wcs, power: Callable[[np.ndarray], np.ndarray]) -> float:
    """Expected pixel variance of :func:`gaussian_field` for the spectrum ``power`` (same units²)."""
    ell = enmap.modlmap(shape, wcs)
    return float(np.sum(power(ell)) / enmap.area(shape, wcs))


def gaussian_field(shape: tuple[int, int], wcs, power: Callable[[np.ndarray], np.ndarray], *,
                   rng: np.random.Generator) -> enmap.ndmap:
    """A periodic Gaussian field with angular power spectrum ``power(ell)``.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the patch.
    wcs : astropy.wcs.WCS
        Its CAR geometry.
    power : callable
        Maps an array of multipoles ℓ to :math:`C_\\ell` in ``unit² sr``; it should
        return 0 at ℓ = 0 (no monopole).
    rng : numpy.random.Generator
        Source of the white noise (``ny * nx`` standard normals drawn).

    Returns
    -------
    enmap.ndmap of shape (ny, nx), float64
        The field, in ``unit``.
    """
    ny, nx = shape
    white = rng.standard_normal((ny, nx))
    pixarea = enmap.area(shape, wcs) / (ny * nx)
    amp = np.sqrt(np.maximum(power(rfft_modlmap(shape, wcs)), 0.0) / pixarea)
    field = np.fft.irfft2(np.fft.rfft2(white) * amp, s=(ny, nx))
    return enmap.ndmap(field, wcs)
