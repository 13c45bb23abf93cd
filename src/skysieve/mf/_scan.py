"""Scan-direction (1/f) noise: an isotropic spectrum plus excess power in the low-|ℓ_x| columns.

A survey scanning along x (RA) leaves slow drifts as stripes: extra power
at low ``|ℓ_x|`` for every ``ℓ_y``, which an azimuthal average spreads over
whole rings — over-estimating the noise of every other mode and passing the
stripes through the filter with too much weight.  :class:`ScanNoise` models
the pixel power of mode ``k`` as::

    P_ij(k) = S_ij(|ℓ|) + X_ij(k_x),

estimated from the maps in three steps:

1. ``S₀``: ring averages over the modes with ``|ℓ_x| ≥ max_ell_x`` only
   (free of stripes; valid where ``|ℓ| ≥ max_ell_x``);
2. ``X`` in each column with ``|ℓ_x| < max_ell_x``: the mean over its rows
   with ``|ℓ_y| ≥ min_ell_y`` of the power above ``S₀`` — the stripe power
   does not depend on ``ℓ_y``, and there ``S₀`` is valid and flat — clipped
   to a positive semi-definite matrix;
3. ``S``: ring averages over every mode of the power less ``X``, each mode
   weighted by ``(S₀ / (S₀ + X))²`` (its power scatters by its own
   ``S + X``: the few modes of a strongly striped column would swamp a
   plain average; normalised to mean 1 in each ring), kept at
   least half the smallest auto power of ``S₀`` (the white floor: at low ℓ,
   where every mode is striped, a ring's few modes can leave less power
   than ``X`` predicts).

The matched filter then weights every Fourier mode by its own noise
(:meth:`~skysieve.mf.MatchedFilter.fit` with a ``mode_power``): the stripes
are down-weighted where they are, and nowhere else.  On maps without stripes
``X`` is a few per cent of noise in each column (the mean of ~1500 modes,
clipped at 0): the filter loses next to nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from skysieve.mf._fourier import FourierGrid
from skysieve.mf.noise import MapNoise, NoiseSpectra

__all__ = ["ScanNoise", "destripe"]

_ARCMIN_RAD = np.pi / (180.0 * 60.0)


@dataclass(frozen=True, eq=False)
class ScanNoise:
    """Noise with scan-direction stripes (along x): an isotropic part plus a per-column excess.

    Parameters
    ----------
    inner : MapNoise
        Ring-average estimator of the isotropic part.
    max_ell_x : float
        Columns with ``|ℓ_x|`` below this may hold stripes (scan noise is a
        low-frequency effect).
    min_ell_y : float
        Rows with ``|ℓ_y|`` at least this estimate the stripes' excess.
    """

    inner: MapNoise
    max_ell_x: float = 4000.0
    min_ell_y: float = 6000.0

    def _parts(self, grid: FourierGrid, dft: np.ndarray, bands, freqs_ghz, beam_fwhm_arcmin):
        lx = 2.0 * np.pi * np.fft.rfftfreq(grid.shape[1], d=grid.dx_arcmin * _ARCMIN_RAD)
        ly = 2.0 * np.pi * np.fft.fftfreq(grid.shape[0], d=grid.dy_arcmin * _ARCMIN_RAD)
        kw = {"grid": grid, "bands": bands, "freqs_ghz": freqs_ghz, "beam_fwhm_arcmin": beam_fwhm_arcmin, "dft": dft}
        striped = lx < self.max_ell_x
        rows = np.abs(ly) >= self.min_ell_y
        nb = dft.shape[0]
        excess = np.zeros((nb, nb, 1, lx.size))
        if striped.any() and (~striped).any() and rows.any():
            s0 = self.inner.spectra(**kw, mode_weight=np.broadcast_to(~striped, grid.fourier_shape))
            iso = s0.tabulate(grid.lmax)[:, :, grid.ell_index[rows][:, striped]] / grid.pixel_area_sr
            d = dft[:, rows][:, :, striped]  # (nb, nrow, ncol)
            raw = np.einsum("iyc,jyc->ijc", d, np.conj(d)).real / (grid.n_pix * d.shape[1])
            x = raw - iso.mean(axis=2)
            vals, vecs = np.linalg.eigh(0.5 * (x + np.swapaxes(x, 0, 1)).transpose(2, 0, 1))
            psd = np.einsum("cik,ck,cjk->ijc", vecs, np.clip(vals, 0.0, None), vecs)
            excess[:, :, 0, striped] = psd
        weight = None
        if excess.any():  # inverse-variance weights: a mode's power scatters by its own S + X
            s0_tr = np.trace(s0.tabulate(grid.lmax), axis1=0, axis2=1)[grid.ell_index] / grid.pixel_area_sr
            x_tr = np.trace(excess, axis1=0, axis2=1)  # (1, nx//2+1)
            weight = (s0_tr / (s0_tr + x_tr)) ** 2
            # Normalised to mean 1 in each ring, so the rings count their modes as MapNoise does and its
            # smoothing windows keep their widths (widened to reach min_modes of small weights, they would
            # reach far up in ℓ and under-estimate the steep CMB at low ℓ).
            idx = (grid.ell / max(float(self.inner.ell_bin_width), grid.ell_fundamental)).astype(np.int64).ravel()
            cw = np.broadcast_to(grid.column_weight, grid.fourier_shape).ravel()
            total = np.bincount(idx, weights=cw * weight.ravel())
            count = np.bincount(idx, weights=cw)
            weight = weight * (count / np.where(total > 0, total, 1.0))[idx].reshape(grid.fourier_shape)
        spectra = self.inner.spectra(**kw, mode_weight=weight, subtract=excess)
        if excess.any():  # S = F + PSD(S − F), F = half the smallest auto power of S₀: never below the white floor
            floor = np.diag(0.5 * np.min(np.diagonal(s0.cl, axis1=0, axis2=1), axis=0))
            vals, vecs = np.linalg.eigh((spectra.cl - floor[:, :, None]).transpose(2, 0, 1))
            cl = np.einsum("lik,lk,ljk->ijl", vecs, np.clip(vals, 0.0, None), vecs) + floor[:, :, None]
            spectra = NoiseSpectra(ell=spectra.ell, cl=cl, bands=spectra.bands)
        return spectra, excess

    def spectra(self, *, grid: FourierGrid, bands: Sequence[str], freqs_ghz: Sequence[float] = (),
                beam_fwhm_arcmin: Sequence[float] = (), dft: np.ndarray) -> NoiseSpectra:
        """The isotropic part ``S`` (with the stripes' excess taken off every mode)."""
        return self._parts(grid, dft, bands, freqs_ghz, beam_fwhm_arcmin)[0]

    def mode_power(self, *, grid: FourierGrid, bands: Sequence[str], freqs_ghz: Sequence[float] = (),
                   beam_fwhm_arcmin: Sequence[float] = (), dft: np.ndarray) -> np.ndarray:
        """Pixel power ``P_ij(k) = S_ij(|ℓ|) + X_ij(k_x)`` of every ``rfft2`` mode.

        Returns
        -------
        ndarray of shape (nband, nband, ny, nx//2+1), µK²
        """
        spectra, excess = self._parts(grid, dft, bands, freqs_ghz, beam_fwhm_arcmin)
        power = spectra.tabulate(grid.lmax)[:, :, grid.ell_index] / grid.pixel_area_sr
        power += excess
        return power


def destripe(data: np.ndarray, *, wcs, noise: ScanNoise, window: np.ndarray | None = None) -> np.ndarray:
    """Bring scan-striped maps back to their isotropic noise: each band's modes times ``√(S_ii / (S_ii + X_ii))``.

    The stripes' excess ``X`` is taken down to nothing and the rest of the
    noise ``S`` kept, so a model trained on maps without stripes (the CNN)
    sees noise like its training data; a signal loses the same fraction in
    the striped modes (low ``|ℓ_x|``) only.

    Parameters
    ----------
    data : ndarray of shape (nband, ny, nx)
        Maps (µK), e.g. whitened and apodized.
    wcs : astropy.wcs.WCS
        Their geometry.
    noise : ScanNoise
        The estimator of ``S`` and ``X``.
    window : ndarray of shape (ny, nx), optional
        Estimate ``S`` and ``X`` through this window (the fully observed
        region); the ratio needs no renormalisation.

    Returns
    -------
    ndarray of shape (nband, ny, nx), float32
    """
    import scipy.fft

    from skysieve.mf._fourier import fourier_grid

    grid = fourier_grid(data.shape[-2:], wcs)
    bands = tuple(str(i) for i in range(data.shape[0]))
    dft = scipy.fft.rfft2(np.asarray(data, np.float64), axes=(-2, -1))
    probe = dft if window is None else scipy.fft.rfft2(np.asarray(data, np.float64) * window, axes=(-2, -1))
    spectra, excess = noise._parts(grid, probe, bands, (), ())
    del probe
    s = np.einsum("iil->il", spectra.tabulate(grid.lmax))[:, grid.ell_index] / grid.pixel_area_sr
    x = np.einsum("iiyx->iyx", excess)
    gain = np.sqrt(s / np.where(s + x > 0, s + x, 1.0))
    return scipy.fft.irfft2(dft * gain, s=grid.shape, axes=(-2, -1)).astype(np.float32)
