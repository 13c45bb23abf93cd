"""Flat-sky Fourier geometry shared by the simulators and the matched filter (internal).

One definition of the multipole of each mode of :func:`numpy.fft.rfft2`: a
map of ``ny × nx`` pixels with pixel sides ``dy``, ``dx`` (radians) has
wavevectors ``ℓ_y = 2π · fftfreq(ny, dy)`` and ``ℓ_x = 2π · rfftfreq(nx, dx)``
and ``|ℓ| = hypot(ℓ_y, ℓ_x)``.  How a caller measures the pixel sides (the
WCS projection-plane scales, pixell's extent) stays with the caller.
"""

import numpy as np

__all__ = ["ell_grid"]


def ell_grid(shape: tuple[int, int], *, dy_rad: float, dx_rad: float) -> np.ndarray:
    """Multipole ``|ℓ|`` of each mode of ``numpy.fft.rfft2`` of a map of ``shape``.

    Parameters
    ----------
    shape : (ny, nx)
        Map shape in pixels.
    dy_rad, dx_rad : float, keyword-only
        Pixel sides along y and x, radians; the sign is ignored (a WCS step
        may be negative).

    Returns
    -------
    ndarray of shape (ny, nx // 2 + 1), float64
        ``|ℓ| = sqrt(ℓ_y² + ℓ_x²)`` with ``ℓ_y = 2π · fftfreq(ny, |dy|)``,
        ``ℓ_x = 2π · rfftfreq(nx, |dx|)``.
    """
    ny, nx = shape[-2:]
    ly = 2.0 * np.pi * np.fft.fftfreq(ny, d=abs(dy_rad))
    lx = 2.0 * np.pi * np.fft.rfftfreq(nx, d=abs(dx_rad))
    return np.hypot(ly[:, None], lx[None, :])
