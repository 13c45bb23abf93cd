"""The multi-frequency matched filter (Herranz et al. 2002; Melin et al. 2006).

Model of band ``i`` (µK_CMB)::

    d_i(x) = Y · a_i (B_i ⊛ τ_θc)(x − x0) + n_i(x),      a_i = T_CMB f(ν_i)

with ``τ_θc`` the projected beta model (β = 1) of core radius ``θc``,
truncated at ``truncate_theta_c · θc`` and normalised to unit integral
(``Σ_x τ Ω_pix = 1``, arcmin⁻²), so ``Y`` is the integrated Compton-y in
arcmin²; ``B_i`` the beam; ``f(ν) = x coth(x/2) − 4`` the tSZ spectrum; ``n``
Gaussian noise with pixel power ``P_ij(ℓ) = C_ij(ℓ) / Ω_pix`` (see
:mod:`skysieve.mf.noise`).  The unbiased minimum-variance estimate of ``Y`` at
every pixel is, with ``s̃_i = a_i B_i τ̃`` and Fourier sums over the full
plane of ``n_pix`` modes::

    Ŷ(x0) = σ² · IDFT[ Σ_ij s̃_i* (P⁻¹)_ij d̃_j ](x0)
    σ⁻²   = (1/n_pix) Σ_k Σ_ij s̃_i* (P⁻¹)_ij s̃_j

and ``SNR = Ŷ / σ`` has unit variance on pure noise.  The beams and the
noise are isotropic, so the band weights ``g_i(ℓ) = Σ_j (P⁻¹)_ij a_j B_j`` and
the response ``Q(ℓ) = Σ_i a_i B_i g_i`` are 1-D functions: ``P`` is inverted
once per integer ℓ (an ``nband × nband`` solve), the bands are combined once
into ``D̃ = Σ_i g_i d̃_i``, and each of the scales costs one template FFT and
one inverse FFT: ``SNR_θ = σ_θ · IDFT[τ̃_θ D̃]``.  The ℓ = 0 (mean) mode is
left out.  Templates are painted by the simulation's painter (pixel-centre
values, sub-sampled core), so no pixel window enters; the transforms are
periodic.  The derivation and the choices are in ``docs/matched_filter.md``.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.fft
from astropy.table import Table
from astropy.wcs import WCS

from skysieve.data.maps import SkyMaps
from skysieve.errors import DataError
from skysieve.mf._fourier import FourierGrid, fourier_grid
from skysieve.mf.noise import NoiseEstimator, NoiseSpectra
from skysieve.mf.peaks import detection_catalog, find_peaks

__all__ = ["MatchedFilter", "beta_template", "default_scales", "invert_noise"]


def default_scales(*, n_scales: int = 12, theta_c_min_arcmin: float = 0.25,
                   theta_c_max_arcmin: float = 3.0) -> np.ndarray:
    """Filter core radii spaced linearly (SPT: 0.25′ to 3′ in steps of 0.25′).

    Returns
    -------
    ndarray of shape (n_scales,), arcmin
    """
    return np.linspace(theta_c_min_arcmin, theta_c_max_arcmin, n_scales)


def invert_noise(pixel_power: np.ndarray, *, ridge: float = 1e-12) -> np.ndarray:
    """Invert ``P(ℓ)`` at every ℓ, with a relative ridge against exactly singular modes.

    Parameters
    ----------
    pixel_power : ndarray of shape (nband, nband, nl)
        Symmetric positive (semi-)definite pixel power, µK².
    ridge : float
        ``ridge × tr P(ℓ) / nband`` is added to the diagonal at each ℓ (1 where
        the trace vanishes).  Relative to each ℓ's own power: a ridge set by
        the largest power (the CMB at ℓ ≈ 2) would add a per-cent of fake
        white noise at high ℓ.

    Returns
    -------
    ndarray of shape (nl, nband, nband), µK⁻²
    """
    nb = pixel_power.shape[0]
    p = np.moveaxis(pixel_power, -1, 0)
    scale = np.trace(p, axis1=1, axis2=2) / nb
    scale = np.where(scale > 0, scale, 1.0)
    return np.linalg.inv(p + (ridge * scale)[:, None, None] * np.eye(nb))


def beta_template(grid: FourierGrid, *, theta_c_arcmin: float, theta_max_arcmin: float) -> np.ndarray:
    """The unit-integral beta-model template centred on pixel (0, 0) of a periodic grid.

    Painted with :func:`skysieve.sim.tsz.paint_beta_profiles` (the painter of
    the simulated skies: pixel-centre values, sub-sampled core, exact
    integral) on an equatorial CAR grid of the same pixel sides, centred on
    pixel ``(ny//2, nx//2)`` and rolled to ``(0, 0)``; parts beyond the grid
    are dropped and the result renormalised to ``Σ τ Ω_pix = 1``.

    Returns
    -------
    ndarray of shape (ny, nx), float32, arcmin⁻²
    """
    from skysieve.sim.tsz import paint_beta_profiles

    ny, nx = grid.shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---CAR", "DEC--CAR"]
    wcs.wcs.cdelt = [-grid.dx_arcmin / 60.0, grid.dy_arcmin / 60.0]
    wcs.wcs.crval = [0.0, 0.0]
    wcs.wcs.crpix = [nx // 2 + 1.0, ny // 2 + 1.0]
    painted = np.asarray(paint_beta_profiles((ny, nx), wcs, [0.0], [0.0], [1.0], theta_c_arcmin, theta_max_arcmin))
    norm = 1.0 / (painted.sum() * grid.pixel_area_arcmin2)
    # Roll the centre to (0, 0), normalise and cast in one pass over the four blocks.
    cy, cx = ny // 2, nx // 2
    tau = np.empty((ny, nx), dtype=np.float32)
    for (dst_y, src_y) in ((slice(0, ny - cy), slice(cy, ny)), (slice(ny - cy, ny), slice(0, cy))):
        for (dst_x, src_x) in ((slice(0, nx - cx), slice(cx, nx)), (slice(nx - cx, nx), slice(0, cx))):
            np.multiply(painted[src_y, src_x], norm, out=tau[dst_y, dst_x], casting="same_kind")
    return tau


class MatchedFilter:
    """Multi-frequency matched filter for beta-model (β = 1) clusters at several core radii.

    Looks like an estimator: parameters in ``__init__``, :meth:`fit` learns the
    noise and the normalisation of one map geometry, :meth:`transform` gives
    SNR maps and :meth:`predict` the detection catalog.

    Parameters
    ----------
    beam_fwhm_arcmin : mapping of str to float
        Gaussian beam FWHM per band name (e.g. ``{"90GHz": 1.7}``), arcmin.
    noise : NoiseEstimator
        :class:`~skysieve.mf.noise.ModelNoise` or
        :class:`~skysieve.mf.noise.MapNoise`.
    theta_c_arcmin : sequence of float
        Core radii of the filter scales, arcmin (default :func:`default_scales`).
    truncate_theta_c : float
        Template truncation radius in core radii.
    snr_threshold : float
        Detection threshold used by :meth:`detections`.
    centroid_core_fraction : float
        Detections are placed at the SNR-weighted mean of the pixels above
        this fraction of their peak (see :mod:`skysieve.mf.peaks`).
    deblend_prominence : float, optional
        Split detection regions at envelope peaks of at least this
        prominence (:func:`~skysieve.mf.peaks.find_peaks`); None: never.
    tcmb_k : float
        CMB temperature, K (converts Compton-y to µK_CMB).

    Attributes
    ----------
    grid_ : FourierGrid
        Fourier geometry of the fitted maps.
    wcs_ : astropy.wcs.WCS
        Their celestial WCS (for the detections' sky positions).
    bands_ : tuple of str
    freqs_ghz_ : tuple of float
    noise_ : NoiseSpectra
        Noise spectra the filter was built with, µK² sr.
    weights_ : ndarray of shape (nband, lmax + 1)
        Band weights ``g_i(ℓ)``, µK⁻¹ per unit y; of shape (nband, ny, nx//2+1),
        one per Fourier mode, when the noise estimator has a ``mode_power``
        method (anisotropic noise, :class:`~skysieve.mf.ScanNoise`).
    response_ : ndarray of shape (lmax + 1,)
        ``Q(ℓ) = Σ_i a_i B_i g_i`` (per mode with anisotropic noise).
    sigma_ : ndarray of shape (nscale,)
        Noise rms of ``Ŷ`` at each scale, arcmin².
    """

    def __init__(self, *, beam_fwhm_arcmin: Mapping[str, float], noise: NoiseEstimator,
                 theta_c_arcmin: Sequence[float] | None = None, truncate_theta_c: float = 25.0,
                 snr_threshold: float = 4.0, centroid_core_fraction: float = 0.5,
                 deblend_prominence: float | None = None, tcmb_k: float = 2.7255) -> None:
        self.beam_fwhm_arcmin = dict(beam_fwhm_arcmin)
        self.noise = noise
        self.theta_c_arcmin = np.asarray(default_scales() if theta_c_arcmin is None else theta_c_arcmin, float)
        self.truncate_theta_c = float(truncate_theta_c)
        self.snr_threshold = float(snr_threshold)
        self.centroid_core_fraction = float(centroid_core_fraction)
        self.deblend_prominence = None if deblend_prominence is None else float(deblend_prominence)
        self.tcmb_k = float(tcmb_k)

    # -- fitting -----------------------------------------------------------------------------------------------

    def fit(self, maps: SkyMaps) -> "MatchedFilter":
        """Learn the noise covariance, band weights, templates and normalisations for ``maps``' geometry.

        Parameters
        ----------
        maps : SkyMaps
            Band maps in µK_CMB (point sources already treated); with
            :class:`MapNoise` their own spectra are the noise.

        Returns
        -------
        self

        Raises
        ------
        DataError
            If a band has no frequency or no beam.
        """
        self._fit(maps, self._rfft(maps))
        return self

    def fit_transform(self, maps: SkyMaps) -> np.ndarray:
        """:meth:`fit` then :meth:`transform`, sharing the maps' FFTs."""
        dft = self._rfft(maps)
        self._fit(maps, dft)
        return self._snr_from_dft(dft)

    def check_bands(self, maps: SkyMaps) -> tuple[float, ...]:
        """The band frequencies of ``maps``, GHz, after checking that every band has a frequency and a beam.

        Raises
        ------
        DataError
            Naming the files of the bands without ``FREQ`` or without a beam.
        """
        where = ", ".join(str(p) for p in maps.paths) or "the maps"
        if maps.freqs_ghz is None:
            raise DataError(f"{where}: bands {list(maps.bands)} have no frequency (FREQ in GHz); "
                            "the matched filter needs each band's tSZ response")
        missing = [b for b in maps.bands if b not in self.beam_fwhm_arcmin]
        if missing:
            paths = [str(p) for p, b in zip(maps.paths, maps.bands) if b in missing] or missing
            raise DataError(f"{', '.join(paths)}: band(s) {missing} have no beam; known bands are "
                            f"{sorted(self.beam_fwhm_arcmin)} (simulate_sz.bands); add them or drop those maps")
        return tuple(float(f) for f in maps.freqs_ghz)

    def _fit(self, maps: SkyMaps, dft: np.ndarray) -> None:
        from skysieve.sim.instrument import beam_transfer
        from skysieve.sim.tsz import tsz_frequency_factor

        freqs = self.check_bands(maps)
        grid = fourier_grid(maps.data.shape[-2:], maps.wcs)
        ell = np.arange(grid.lmax + 1, dtype=float)
        beams = [self.beam_fwhm_arcmin[b] for b in maps.bands]
        spectra = self.noise.spectra(grid=grid, bands=maps.bands, freqs_ghz=freqs, beam_fwhm_arcmin=beams, dft=dft)
        tcmb_uk = self.tcmb_k * 1e6
        resp = np.stack([tcmb_uk * tsz_frequency_factor(nu) * beam_transfer(ell, fwhm)
                         for nu, fwhm in zip(freqs, beams)])  # a_i B_i(ℓ), µK per unit y
        mode_power = getattr(self.noise, "mode_power", None)
        power = None if mode_power is None else mode_power(grid=grid, bands=maps.bands, freqs_ghz=freqs,
                                                          beam_fwhm_arcmin=beams, dft=dft)
        if power is None:  # isotropic: one inversion per integer ℓ
            pinv = invert_noise(spectra.tabulate(grid.lmax) / grid.pixel_area_sr)
            weights = np.einsum("lij,jl->il", pinv, resp)
            weights[:, 0] = 0.0
            response = np.einsum("il,il->l", resp, weights)
            q_modes = response[grid.ell_index]
        else:  # anisotropic (e.g. scan stripes): one inversion per Fourier mode
            nb = len(beams)
            pinv = invert_noise(power.reshape(nb, nb, -1))
            del power
            resp_modes = resp[:, grid.ell_index].reshape(nb, -1)
            weights = np.einsum("mij,jm->im", pinv, resp_modes).reshape(nb, *grid.fourier_shape)
            del pinv
            weights[:, 0, 0] = 0.0
            response = np.einsum("im,im->m", resp_modes, weights.reshape(nb, -1)).reshape(grid.fourier_shape)
            q_modes = response

        templates = np.empty((self.theta_c_arcmin.size, *grid.fourier_shape), dtype=np.float32)
        sigma = np.empty(self.theta_c_arcmin.size)
        for s, theta_c in enumerate(self.theta_c_arcmin):
            tau_ft = scipy.fft.rfft2(beta_template(grid, theta_c_arcmin=theta_c,
                                                   theta_max_arcmin=self.truncate_theta_c * theta_c)).real
            inv_var = float(grid.full_plane_sum(tau_ft.astype(np.float64) ** 2 * q_modes)) / grid.n_pix
            if not inv_var > 0:
                raise DataError(f"matched filter has no response at θc = {theta_c}′ on this {grid.shape} map; "
                                "check the beams and the noise levels")
            sigma[s] = inv_var ** -0.5
            templates[s] = tau_ft * np.float32(sigma[s])  # SNR_θ = σ_θ IDFT[τ̃_θ D̃]

        self.grid_: FourierGrid = grid
        self.wcs_ = maps.wcs
        self.bands_: tuple[str, ...] = tuple(maps.bands)
        self.freqs_ghz_: tuple[float, ...] = freqs
        self.noise_: NoiseSpectra = spectra
        self.weights_: np.ndarray = weights
        self.response_: np.ndarray = response
        self.sigma_: np.ndarray = sigma
        self._templates = templates

    # -- applying ----------------------------------------------------------------------------------------------

    def _rfft(self, maps: SkyMaps) -> np.ndarray:
        # float64: the band weights cancel the CMB, common to all bands and at low ℓ up to 1e6 times the
        # noise power; double precision keeps what is left of it far below the noise.
        return scipy.fft.rfft2(np.asarray(maps.data, dtype=np.float64), axes=(-2, -1))

    def _check_fitted(self, maps: SkyMaps) -> None:
        if not hasattr(self, "sigma_"):
            raise DataError("MatchedFilter is not fitted; call fit(maps) first")
        if tuple(maps.bands) != self.bands_ or tuple(maps.data.shape[-2:]) != self.grid_.shape:
            raise DataError(f"maps {list(maps.bands)} of shape {maps.data.shape[-2:]} differ from the fitted "
                            f"{list(self.bands_)} of shape {self.grid_.shape}; refit the filter on these maps")

    def transform(self, maps: SkyMaps) -> np.ndarray:
        """Filter ``maps`` at every scale.

        Returns
        -------
        ndarray of shape (nscale, ny, nx), float32
            ``SNR_θ(x) = Ŷ_θ(x) / σ_θ``; multiply by ``sigma_`` for ``Ŷ`` in arcmin².
        """
        self._check_fitted(maps)
        return self._snr_from_dft(self._rfft(maps))

    def _snr_from_dft(self, dft: np.ndarray) -> np.ndarray:
        # D̃ = Σ_i g_i d̃_i in float64 (real weights: work on the real and imaginary parts as one float array).
        weights = self.weights_ if self.weights_.ndim == 3 else self.weights_[:, self.grid_.ell_index]
        parts = np.ascontiguousarray(dft).view(np.float64).reshape(*dft.shape, 2)
        acc = weights[0][..., None] * parts[0]
        for i in range(1, dft.shape[0]):
            acc += weights[i][..., None] * parts[i]
        combined = acc.astype(np.float32).view(np.complex64)[..., 0]
        out = np.empty((self.theta_c_arcmin.size, *self.grid_.shape), dtype=np.float32)
        buf = np.empty_like(combined)
        for s in range(self.theta_c_arcmin.size):
            np.multiply(self._templates[s], combined, out=buf)
            out[s] = scipy.fft.irfft2(buf, s=self.grid_.shape, overwrite_x=True)
        return out

    def predict(self, maps: SkyMaps) -> Table:
        """The detection catalog of ``maps`` (see :func:`~skysieve.mf.peaks.detection_catalog`)."""
        snr = self.transform(maps)
        return self.detections(snr)

    def detections(self, snr_maps: np.ndarray) -> Table:
        """Group the pixels of ``snr_maps`` above ``snr_threshold`` into a detection catalog.

        Parameters
        ----------
        snr_maps : ndarray of shape (nscale, ny, nx)
            From :meth:`transform`.

        Returns
        -------
        Table
            ``ra``, ``dec`` (deg), ``snr``, ``theta_c_arcmin``, ``y_arcmin2``,
            ``scale``, ``x``, ``y``, ``npix``; see
            :func:`~skysieve.mf.peaks.detection_catalog`.
        """
        peaks = find_peaks(snr_maps, threshold=self.snr_threshold, core_fraction=self.centroid_core_fraction,
                           deblend_prominence=self.deblend_prominence)
        return detection_catalog(peaks, wcs=self.wcs_, theta_c_arcmin=self.theta_c_arcmin, sigma_arcmin2=self.sigma_)
