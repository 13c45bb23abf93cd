"""Flat-sky Fourier geometry of a map: the ℓ grid of ``rfft2`` and mode weights.

Conventions used by the whole ``mf`` package
--------------------------------------------
A map ``d`` of ``n = ny·nx`` pixels has the discrete transform
``d̃ = numpy.fft.rfft2(d)`` (no normalisation).  A stationary field with
angular power spectrum ``C_ℓ`` [µK² sr] has ``⟨d̃_i(k) d̃_j(k)*⟩ = n P_ij(ℓ)``
with the *pixel power* ``P = C_ℓ / Ω_pix`` [µK²], ``Ω_pix`` the pixel solid
angle in sr (white noise of rms ``σ_pix`` per pixel has ``P = σ_pix²``).

Sums over the full Fourier plane are taken on the half plane of ``rfft2``
with weight 2 for every column except ``k_x = 0`` and, for even ``nx``, the
Nyquist column, whose partners are in the same column (weight 1).
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from skysieve._flatsky import ell_grid

__all__ = ["FourierGrid", "fourier_grid"]

_ARCMIN_RAD = np.pi / (180.0 * 60.0)


@dataclass(frozen=True)
class FourierGrid:
    """The ``rfft2`` grid of a map with rectangular pixels.

    Attributes
    ----------
    shape : (ny, nx)
        Map shape in pixels.
    dy_arcmin, dx_arcmin : float
        Physical pixel sides in arcmin (for CAR, ``dx`` includes cos δ at the
        map centre).
    """

    shape: tuple[int, int]
    dy_arcmin: float
    dx_arcmin: float

    @property
    def n_pix(self) -> int:
        """Number of pixels ``ny·nx``."""
        return int(self.shape[0] * self.shape[1])

    @property
    def pixel_area_arcmin2(self) -> float:
        """Pixel solid angle in arcmin²."""
        return self.dy_arcmin * self.dx_arcmin

    @property
    def pixel_area_sr(self) -> float:
        """Pixel solid angle ``Ω_pix`` in sr."""
        return self.pixel_area_arcmin2 * _ARCMIN_RAD**2

    @property
    def fourier_shape(self) -> tuple[int, int]:
        """Shape ``(ny, nx//2 + 1)`` of the ``rfft2`` half plane."""
        return self.shape[0], self.shape[1] // 2 + 1

    @property
    def ell_fundamental(self) -> float:
        """ℓ spacing of the longest map side, ``2π / L``."""
        side = max(self.shape[0] * self.dy_arcmin, self.shape[1] * self.dx_arcmin)
        return 2.0 * np.pi / (side * _ARCMIN_RAD)

    @cached_property
    def ell(self) -> np.ndarray:
        """Multipole ``|ℓ| = |k|`` of each mode, ndarray of shape ``fourier_shape``, float64."""
        return ell_grid(self.shape, dy_rad=self.dy_arcmin * _ARCMIN_RAD, dx_rad=self.dx_arcmin * _ARCMIN_RAD)

    @cached_property
    def ell_index(self) -> np.ndarray:
        """``round(|ℓ|)`` of each mode, int32: the index into 1-D functions tabulated at ℓ = 0, 1, 2, …"""
        return np.rint(self.ell).astype(np.int32)

    @property
    def lmax(self) -> int:
        """Largest tabulation index needed, ``max(round(|ℓ|))``."""
        return int(self.ell_index.max())

    @cached_property
    def column_weight(self) -> np.ndarray:
        """Weight of each ``rfft2`` column in a full-plane sum, shape (nx//2 + 1,): 1 or 2."""
        nx = self.shape[1]
        w = np.full(nx // 2 + 1, 2.0)
        w[0] = 1.0
        if nx % 2 == 0:
            w[-1] = 1.0
        return w

    def full_plane_sum(self, half: np.ndarray) -> np.ndarray:
        """``Σ_k`` over the full Fourier plane of a quantity even in k, given on the half plane.

        Parameters
        ----------
        half : ndarray of shape (..., ny, nx//2 + 1)

        Returns
        -------
        ndarray of shape (...)
        """
        return np.einsum("...yx,x->...", half, self.column_weight)


def fourier_grid(shape: tuple[int, int], wcs: WCS) -> FourierGrid:
    """The flat-sky Fourier grid of a map.

    Parameters
    ----------
    shape : (ny, nx)
        Map shape in pixels.
    wcs : astropy.wcs.WCS
        Celestial WCS.  Pixel sides come from the projection-plane scales; for
        a CAR map the RA side is multiplied by cos δ at the map centre.

    Returns
    -------
    FourierGrid
    """
    cel = wcs.celestial
    sx, sy = (float(s) * 60.0 for s in proj_plane_pixel_scales(cel)[:2])
    if any(str(c).endswith("-CAR") for c in cel.wcs.ctype):
        ny, nx = shape
        _, dec_c = cel.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
        sx *= float(np.cos(np.deg2rad(dec_c)))
    return FourierGrid(shape=(int(shape[0]), int(shape[1])), dy_arcmin=sy, dx_arcmin=sx)
