"""Band-by-band noise covariance ``N_ij(ℓ)`` of the matched filter.

Everything but the clusters one searches for is noise.  The CMB (and kSZ,
and the unresolved tSZ background) is the same sky in every band, so the
noise covariance is a full ``nband × nband`` matrix at each multipole, not a
diagonal.  Two estimators give it:

* :class:`ModelNoise` — the DeepSZ (Lin et al. 2021, §2.1) model: the CAMB
  lensed CMB, kSZ and an unresolved-tSZ background (flat in ``D_ℓ``),
  point sources (flat in ``C_ℓ``), all through each band's beam, plus white
  instrument noise::

      C_ij(ℓ) = B_i B_j [C_ℓ^CMB + C^kSZ(ℓ) + C^tSZ(ℓ) f_i f_j / f_ref²]
                + δ_ij [B_i² C_i^PS + w_i²]

  with ``D_ℓ = ℓ(ℓ+1) C_ℓ / 2π``, ``f`` the tSZ frequency factor, ``B`` the
  beam transfer function and ``w_i`` the white-noise level in µK·rad.
* :class:`MapNoise` — the auto and cross spectra of the maps themselves,
  azimuthally averaged in ℓ rings and smoothed over a window that widens with ℓ.

Both return :class:`NoiseSpectra` in ``C_ℓ`` units, µK_CMB² sr.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from astropy.table import Table

from skysieve.errors import ConfigError
from skysieve.mf._fourier import FourierGrid

__all__ = ["MapNoise", "ModelNoise", "NoiseEstimator", "NoiseSpectra"]

_ARCMIN_RAD = np.pi / (180.0 * 60.0)


@dataclass(frozen=True)
class NoiseSpectra:
    """Noise auto and cross spectra of a set of bands.

    Attributes
    ----------
    ell : ndarray of shape (nl,)
        Increasing multipoles at which ``cl`` is given.
    cl : ndarray of shape (nband, nband, nl)
        Symmetric covariance ``C_ij(ℓ)``, µK_CMB² sr.
    bands : tuple of str
        Band names, in the order of the first two axes.
    """

    ell: np.ndarray
    cl: np.ndarray
    bands: tuple[str, ...]

    def tabulate(self, lmax: int) -> np.ndarray:
        """``C_ij`` at ℓ = 0, 1, …, lmax by linear interpolation, constant beyond the ends.

        Returns
        -------
        ndarray of shape (nband, nband, lmax + 1), µK² sr
        """
        ell = np.arange(lmax + 1, dtype=float)
        nb = len(self.bands)
        if self.ell.size == lmax + 1 and np.array_equal(self.ell, ell):
            return self.cl
        out = np.empty((nb, nb, lmax + 1))
        for i in range(nb):
            for j in range(i, nb):
                out[i, j] = out[j, i] = np.interp(ell, self.ell, self.cl[i, j])
        return out


class NoiseEstimator(Protocol):
    """What the matched filter asks of a noise estimator."""

    def spectra(self, *, grid: FourierGrid, bands: Sequence[str], freqs_ghz: Sequence[float],
                beam_fwhm_arcmin: Sequence[float], dft: np.ndarray) -> NoiseSpectra:
        """Noise spectra of ``bands`` on ``grid``; ``dft`` is the maps' ``rfft2``, shape (nband, ny, nx//2+1)."""
        ...


def _flat_dl_to_cl(ell: np.ndarray, d_uk2: float) -> np.ndarray:
    """``C_ℓ = 2π D / (ℓ(ℓ+1))`` for a spectrum flat in ``D_ℓ``; ℓ = 0 is given the ℓ = 1 value."""
    ell = np.maximum(ell, 1.0)
    return 2.0 * np.pi * d_uk2 / (ell * (ell + 1.0))


@dataclass(frozen=True, eq=False)
class ModelNoise:
    """The DeepSZ §2.1 noise model (see the module docstring for the equation).

    Parameters
    ----------
    white_noise_uk_arcmin : mapping of str to float
        Instrument white-noise level per band name, µK_CMB·arcmin.
    ps_d3000_uk2 : mapping of str to float
        Point-source ``D_3000`` per band name, µK_CMB² (flat in ``C_ℓ``).
    cmb_cl : astropy.table.Table, optional
        The lensed CMB TT spectrum, ``ell`` and ``cl_tt`` (``C_ℓ``, µK²), as
        saved by the ``cmb_spectrum`` stage; zero outside the table.  ``None``
        leaves the CMB out.
    sz_d3000_uk2 : float
        Unresolved-tSZ ``D_3000`` at ``sz_ref_freq_ghz``, µK²; scaled to the
        other bands by the non-relativistic tSZ spectrum, fully correlated.
    sz_ref_freq_ghz : float
    ksz_d3000_uk2 : float
        kSZ ``D_3000`` (flat in ``D_ℓ``), the same in every band, µK².
    """

    white_noise_uk_arcmin: Mapping[str, float]
    ps_d3000_uk2: Mapping[str, float]
    cmb_cl: Table | None = None
    sz_d3000_uk2: float = 3.6
    sz_ref_freq_ghz: float = 90.0
    ksz_d3000_uk2: float = 2.0

    def spectra(self, *, grid: FourierGrid, bands: Sequence[str], freqs_ghz: Sequence[float],
                beam_fwhm_arcmin: Sequence[float], dft: np.ndarray | None = None) -> NoiseSpectra:
        """Tabulate the model at ℓ = 0 … ``grid.lmax``.

        Raises
        ------
        ConfigError
            If a band has no white-noise level or no point-source level.
        DataError
            If the CMB table lacks ``ell`` or ``cl_tt``.
        """
        from skysieve.sim.cmb import cl_from_table
        from skysieve.sim.instrument import beam_transfer
        from skysieve.sim.tsz import tsz_frequency_factor

        for table, key in ((self.white_noise_uk_arcmin, "simulate_sz.bands (noise_uk_arcmin)"),
                           (self.ps_d3000_uk2, "mf_sz.ps_d3000_uk2")):
            missing = [b for b in bands if b not in table]
            if missing:
                raise ConfigError(f"{key}: no entry for band(s) {missing} (have {sorted(table)}); "
                                  "add their levels or drop those maps")
        ell = np.arange(grid.lmax + 1, dtype=float)
        beam = np.stack([beam_transfer(ell, fwhm) for fwhm in beam_fwhm_arcmin])
        common = _flat_dl_to_cl(ell, self.ksz_d3000_uk2)
        if self.cmb_cl is not None:
            common = common + cl_from_table(self.cmb_cl)(ell)
        f = np.array([tsz_frequency_factor(nu) for nu in freqs_ghz], dtype=float)
        f_ref = float(tsz_frequency_factor(self.sz_ref_freq_ghz))
        sz = _flat_dl_to_cl(ell, self.sz_d3000_uk2) / f_ref**2
        cl = (common[None, None, :] + sz[None, None, :] * np.outer(f, f)[:, :, None]) * beam[:, None, :] * beam[None]
        ps_norm = 2.0 * np.pi / (3000.0 * 3001.0)
        for i, name in enumerate(bands):
            white = (self.white_noise_uk_arcmin[name] * _ARCMIN_RAD) ** 2
            cl[i, i] += beam[i] ** 2 * self.ps_d3000_uk2[name] * ps_norm + white
        return NoiseSpectra(ell=ell, cl=cl, bands=tuple(bands))


@dataclass(frozen=True)
class MapNoise:
    """Noise spectra estimated from the maps: azimuthal averages of the auto and cross power.

    The modes are binned in rings of width ``max(ell_bin_width, ℓ_fund)``;
    the estimate at ring ``b`` (mean multipole ``ℓ_b``) averages
    ``Re d̃_i d̃_j* / n_pix`` over every mode of the rings whose ``ℓ`` lies
    within ``ℓ_b (1 ± smooth_fraction / 2)``, so the smoothing window widens
    with ℓ where the modes are many and the spectra flat, and stays narrow at
    low ℓ where the CMB falls steeply (wide bins there would over-estimate
    the power and under-weight those modes) — but never holds fewer than
    ``min_modes`` modes.  ``C_ij = P_ij Ω_pix``.
    Averages of outer products are positive semi-definite, and so are their
    interpolations.  The clusters sit in the maps too and count as noise, as
    the unresolved tSZ does in the model.

    Parameters
    ----------
    ell_bin_width : float
        Ring width in ℓ (at least the patch's fundamental ``2π / L``).
    smooth_fraction : float
        Full width of the smoothing window as a fraction of ℓ.
    min_modes : int
        Fewest Fourier modes (full plane) averaged into any estimate; the
        first windows are widened to reach it.
    """

    ell_bin_width: float = 50.0
    smooth_fraction: float = 0.1
    min_modes: int = 200

    def spectra(self, *, grid: FourierGrid, bands: Sequence[str], freqs_ghz: Sequence[float] = (),
                beam_fwhm_arcmin: Sequence[float] = (), dft: np.ndarray,
                mode_weight: np.ndarray | None = None, subtract: np.ndarray | None = None) -> NoiseSpectra:
        """Estimate the spectra from ``dft``, the maps' ``rfft2`` of shape (nband, ny, nx//2+1).

        ``mode_weight`` (shape ``grid.fourier_shape``, bool or ≥ 0), if given,
        weights the modes in the ring averages (0 leaves a mode out); ``subtract``
        (pixel power, µK², shape ``(nband, nband, 1 or ny, nx//2+1)``) is taken
        off every mode's power before averaging — both for
        :class:`~skysieve.mf.ScanNoise`, which models scan stripes apart.
        """
        width = max(float(self.ell_bin_width), grid.ell_fundamental)
        ell = grid.ell.ravel()
        idx = (ell / width).astype(np.int64)
        weight = np.broadcast_to(grid.column_weight, grid.fourier_shape).ravel() * (ell > 0)  # no ℓ = 0
        if mode_weight is not None:
            weight = weight * np.asarray(mode_weight, float).ravel()
        nbin = int(idx.max()) + 1
        count = np.bincount(idx, weights=weight, minlength=nbin)
        good = count > 0
        count = count[good]
        ell_mean = np.bincount(idx, weights=weight * ell, minlength=nbin)[good] / count
        # Window [lo, hi) of rings around each ring, from cumulative sums over rings.
        lo = np.searchsorted(ell_mean, ell_mean * (1.0 - self.smooth_fraction / 2.0), side="left")
        hi = np.searchsorted(ell_mean, ell_mean * (1.0 + self.smooth_fraction / 2.0), side="right")
        hi = np.maximum(hi, np.arange(ell_mean.size) + 1)
        cum_count = np.concatenate([[0.0], np.cumsum(count)])
        # Widen the windows of the first rings until each holds min_modes modes: a covariance estimated
        # from a handful of modes is near-singular and its inverse would amplify them without bound.
        need = min(float(self.min_modes), cum_count[-1])
        for b in np.flatnonzero(cum_count[hi] - cum_count[lo] < need):
            while cum_count[hi[b]] - cum_count[lo[b]] < need:
                lo[b], hi[b] = max(lo[b] - 1, 0), min(hi[b] + 1, ell_mean.size)
        nb = dft.shape[0]
        re, im = dft.real.reshape(nb, -1), dft.imag.reshape(nb, -1)
        re_w, im_w = re * weight, im * weight
        cl = np.empty((nb, nb, ell_mean.size))
        for i in range(nb):
            for j in range(i, nb):
                prod = re_w[i] * re[j] + im_w[i] * im[j]
                if subtract is not None:
                    prod = prod - weight * np.broadcast_to(subtract[i, j], grid.fourier_shape).ravel() * grid.n_pix
                ring = np.bincount(idx, weights=prod, minlength=nbin)[good]
                cum = np.concatenate([[0.0], np.cumsum(ring)])
                p = (cum[hi] - cum[lo]) / (cum_count[hi] - cum_count[lo]) / grid.n_pix
                cl[i, j] = cl[j, i] = p * grid.pixel_area_sr
        return NoiseSpectra(ell=ell_mean, cl=cl, bands=tuple(bands))
