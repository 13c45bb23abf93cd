"""Survey-map realism for the simulated sky: footprint, varying depth, scan-direction 1/f noise, TAN projection.

Every feature is off by default (``simulate_sz.survey``,
:class:`~skysieve.config.SurveyParams`), so the default simulation is
unchanged bit for bit.

Footprint
    An irregular observed region: pixels with ``ρ + r · g < R`` are observed,
    where ``ρ`` is the distance from the patch centre in units of half the
    shorter side, ``R = footprint_radius_frac``, ``g`` a unit-variance
    Gaussian random field smoothed over ``footprint_scale_deg`` and
    ``r = footprint_roughness``.  Outside it the maps are NaN and the weights 0.
Depth
    Relative inverse-variance weight ``w = exp(σ g′ − σ²/2)`` (a second smooth
    field ``g′``, ``σ = depth_rms``), rescaled to median 1 over the
    footprint.  The white noise of a pixel is ``N / (Δx √w)`` — noise ∝ 1/√w —
    and the weight map written beside each band is the absolute
    inverse variance ``w (Δx / N)²`` in µK⁻².
1/f noise along the scan
    The scan runs along x (RA): slow drifts in time become noise varying
    slowly along x, i.e. power at low ``|ℓ_x|`` for every ``ℓ_y``.  The white
    noise's Fourier modes are multiplied by ``√(1 + (ℓ_knee / |ℓ_x|)^α)``::

        P(ℓ_x, ℓ_y) = N² [1 + (ℓ_knee / |ℓ_x|)^α]

    with ``|ℓ_x|`` floored at the fundamental ``2π / width`` (the ``ℓ_x = 0``
    column takes the value of the first).  The depth modulation multiplies
    the noise after the colouring.
TAN projection
    The signal is simulated on the CAR grid as always and resampled (cubic
    spline, :func:`pixell.enmap.project`) onto a gnomonic (TAN) grid of the
    same box and pixel size; the noise is drawn on the TAN grid itself, so
    the weights stay exact.  The beamed signal is smooth on the pixel scale
    (1.1′ FWHM at 0.25′), so the resampling changes it by well under 1 %.
"""

import numpy as np
from astropy.wcs import WCS
from pixell import enmap, utils

from skysieve.config import PatchParams, SurveyParams
from skysieve.sim._random import SeedLike, as_generator

__all__ = ["footprint_mask", "one_over_f_noise", "relative_weight", "smooth_field", "tan_geometry", "to_tan"]


def smooth_field(shape: tuple[int, int], *, scale_px: float, seed: SeedLike) -> np.ndarray:
    """A unit-variance Gaussian random field: white noise smoothed by a Gaussian of σ = ``scale_px`` (periodic).

    Returns
    -------
    ndarray of shape (ny, nx), float64
    """
    rng = as_generator(seed)
    ny, nx = int(shape[0]), int(shape[1])
    white = rng.standard_normal((ny, nx))
    ky, kx = np.fft.fftfreq(ny)[:, None], np.fft.rfftfreq(nx)[None, :]
    kernel = np.exp(-2.0 * np.pi**2 * scale_px**2 * (ky**2 + kx**2))
    field = np.fft.irfft2(np.fft.rfft2(white) * kernel, s=(ny, nx))
    return (field - field.mean()) / max(field.std(), 1e-30)


def footprint_mask(shape: tuple[int, int], cfg: SurveyParams, *, pixel_arcmin: float, seed: SeedLike) -> np.ndarray:
    """The observed region: ``ρ + r g < R`` (see the module docstring), shape (ny, nx), bool."""
    ny, nx = int(shape[0]), int(shape[1])
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    half = 0.5 * min(ny, nx)
    rho = np.hypot((y - (ny - 1) / 2.0) / half, (x - (nx - 1) / 2.0) / half)
    g = smooth_field(shape, scale_px=cfg.footprint_scale_deg * 60.0 / pixel_arcmin, seed=seed)
    return rho + cfg.footprint_roughness * g < cfg.footprint_radius_frac


def relative_weight(shape: tuple[int, int], cfg: SurveyParams, *, pixel_arcmin: float, seed: SeedLike,
                    mask: np.ndarray | None = None) -> np.ndarray:
    """Relative inverse-variance weight ``exp(σ g − σ²/2)``, median 1 over ``mask`` (float64, (ny, nx)); 1 if σ = 0."""
    if cfg.depth_rms <= 0:
        return np.ones(shape)
    g = smooth_field(shape, scale_px=cfg.depth_scale_deg * 60.0 / pixel_arcmin, seed=seed)
    w = np.exp(cfg.depth_rms * g - 0.5 * cfg.depth_rms**2)
    return w / np.median(w[mask] if mask is not None and mask.any() else w)


def one_over_f_noise(white: np.ndarray, wcs: WCS, *, ell_knee: float, alpha: float) -> np.ndarray:
    """Colour white noise with the scan-direction 1/f spectrum ``1 + (ℓ_knee / |ℓ_x|)^α`` (x: the scan).

    Parameters
    ----------
    white : ndarray of shape (ny, nx)
        White noise, µK.
    wcs : WCS
        Its geometry (for the multipoles).
    ell_knee, alpha : float
        Knee multipole and slope; ``ell_knee = 0`` returns ``white``.

    Returns
    -------
    ndarray of shape (ny, nx), float64
    """
    if ell_knee <= 0:
        return np.asarray(white, float)
    ny, nx = white.shape
    _, lx = enmap.laxes((ny, nx), wcs)
    lx = np.abs(np.asarray(lx, float))
    lx[lx == 0] = np.min(lx[lx > 0])
    gain = np.sqrt(1.0 + (ell_knee / lx) ** alpha)
    return np.fft.ifft2(np.fft.fft2(np.asarray(white, float)) * gain[None, :]).real


def tan_geometry(patch: PatchParams) -> tuple[tuple[int, int], WCS]:
    """The gnomonic (TAN) grid of the patch's box at its pixel size (pixell ``enmap.geometry``, ``proj='tan'``)."""
    ra0, dec0 = patch.ra_center_deg, patch.dec_center_deg
    half_w, half_h = patch.width_deg / 2.0, patch.height_deg / 2.0
    pos = np.array([[dec0 - half_h, ra0 + half_w], [dec0 + half_h, ra0 - half_w]]) * utils.degree
    shape, wcs = enmap.geometry(pos=pos, res=patch.pixel_arcmin * utils.arcmin, proj="tan")
    return (int(shape[-2]), int(shape[-1])), wcs


def to_tan(image: enmap.ndmap, shape: tuple[int, int], wcs: WCS) -> np.ndarray:
    """Resample a CAR map onto a TAN grid (cubic spline; points off the CAR grid take the nearest edge value)."""
    out = enmap.project(image, shape, wcs, order=3, border="nearest", safe=False)
    return np.asarray(out, float)
