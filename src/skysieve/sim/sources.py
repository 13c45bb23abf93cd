"""Extragalactic point sources: radio galaxies and dusty star-forming (IR) galaxies.

Each population has power-law differential counts at ``ref_freq_ghz``,

.. math:: \\frac{dN}{dS} = A \\left(\\frac{S}{S_0}\\right)^{-\\alpha}\\ {\\rm sr^{-1}\\,mJy^{-1}},
          \\qquad s_{\\min} < S < s_{\\max},

and every source its own flux spectral index
:math:`S_\\nu = S (\\nu/\\nu_{\\rm ref})^{a}`, :math:`a \\sim \\mathcal{N}(\\bar a, \\sigma_a^2)`.
Sources sit exactly at pixel centres, and their catalogue positions are those
centres, so a catalogue-based subtraction is exact.  A source of flux S in a
pixel of solid angle Ω adds :math:`\\Delta T = (S/\\Omega) / (\\partial B_\\nu/\\partial T)|_{T_{\\rm CMB}}`
to that pixel (before the beam).

Calibration of the defaults (``config._sim._default_radio`` / ``_default_ir``):
the Poisson power of the sources fainter than 2 mJy at 148 GHz (DeepSZ's
matched filter subtracts brighter ones), from :func:`poisson_cl`, is
:math:`D_{3000}` = 2.7, 8.1, 76 µK² at 90, 148, 219 GHz against DeepSZ's
2.7, 8.8, 71 (§2.1).  With the cut applied in each band separately instead
the numbers are 3.1, 8.1, 22 (the steep IR spectrum puts many more sources
above 2 mJy at 219 GHz); without any cut 560, 99, 290.  Only the amplitudes
A were fitted (radio 1.4e4, IR 4.5e5 sr⁻¹ mJy⁻¹ at 1 mJy); slopes, spectral
indices and flux ranges are the original defaults.  ``tests/sim/test_sources.py``
checks the defaults against DeepSZ's numbers and the power of a simulated
source map against :func:`poisson_cl`.
"""

import astropy.units as u
import numpy as np
from astropy.table import Table
from pixell import enmap

from skysieve.config import SourcePopulationParams
from skysieve.data.maps import band_name
from skysieve.errors import ConfigError
from skysieve.sim._geometry import patch_solid_angle_sr, pixel_centres, uniform_positions
from skysieve.sim._random import SeedLike, as_generator
from skysieve.sim._tables import column_values, require_columns

__all__ = [
    "SOURCE_POPULATIONS",
    "empty_source_table",
    "expected_source_count",
    "flux_column",
    "mjy_to_uk",
    "poisson_cl",
    "sample_sources",
    "source_map",
    "uk_to_mjy",
]

SOURCE_POPULATIONS = ("radio", "ir")
"""Names of the source populations (``SimulateSzParams`` has one section each)."""


def flux_column(freq_ghz: float) -> str:
    """Name of the catalogue column holding fluxes in a band, e.g. ``flux_148GHz_mjy``."""
    return f"flux_{band_name(freq_ghz)}_mjy"


def mjy_to_uk(flux_mjy, freq_ghz, *, pixel_area_sr, tcmb_k: float = 2.7255):
    """Convert a flux in one pixel to a CMB temperature change.

    .. math:: \\Delta T = \\frac{S / \\Omega_{\\rm pix}}{\\partial B_\\nu / \\partial T |_{T_{\\rm CMB}}},
              \\qquad \\frac{\\partial B_\\nu}{\\partial T} = \\frac{2 k_B \\nu^2}{c^2}
              \\frac{x^2 e^x}{(e^x - 1)^2}, \\quad x = \\frac{h\\nu}{k_B T_{\\rm CMB}}

    (astropy's :func:`~astropy.units.thermodynamic_temperature` equivalency).

    Parameters
    ----------
    flux_mjy : float or array_like
        Flux density in mJy.
    freq_ghz : float
        Band centre in GHz.
    pixel_area_sr : float or array_like
        Solid angle the flux is spread over, sr (broadcast against ``flux_mjy``).
    tcmb_k : float
        CMB temperature in K.

    Returns
    -------
    float or ndarray
        ΔT in µK_CMB.
    """
    brightness = np.asarray(flux_mjy, dtype=np.float64) / np.asarray(pixel_area_sr, dtype=np.float64) * u.mJy / u.sr
    equiv = u.thermodynamic_temperature(float(freq_ghz) * u.GHz, T_cmb=tcmb_k * u.K)
    out = brightness.to_value(u.uK, equivalencies=equiv)
    return float(out) if np.ndim(out) == 0 else out


def uk_to_mjy(temperature_uk, freq_ghz, *, pixel_area_sr, tcmb_k: float = 2.7255):
    """Inverse of :func:`mjy_to_uk`: the flux (mJy) that raises a pixel by ``temperature_uk`` µK_CMB."""
    equiv = u.thermodynamic_temperature(float(freq_ghz) * u.GHz, T_cmb=tcmb_k * u.K)
    brightness = (np.asarray(temperature_uk, dtype=np.float64) * u.uK).to_value(u.mJy / u.sr, equivalencies=equiv)
    out = brightness * np.asarray(pixel_area_sr, dtype=np.float64)
    return float(out) if np.ndim(out) == 0 else out


def expected_source_count(cfg: SourcePopulationParams, *, solid_angle_sr: float) -> float:
    """Mean number of sources between ``s_min_mjy`` and ``s_max_mjy`` over a solid angle.

    .. math:: N = \\Omega A S_0^{\\alpha} \\frac{s_{\\min}^{1-\\alpha} - s_{\\max}^{1-\\alpha}}{\\alpha - 1}
    """
    a, s0 = cfg.counts_slope, cfg.pivot_mjy
    per_sr = cfg.counts_norm_per_sr_per_mjy * s0**a * (cfg.s_min_mjy ** (1 - a) - cfg.s_max_mjy ** (1 - a)) / (a - 1)
    return float(per_sr * solid_angle_sr)


def _flux_moment2(cfg: SourcePopulationParams, s_hi: np.ndarray) -> np.ndarray:
    """:math:`\\int_{s_{\\min}}^{s_{hi}} S^2 dN/dS\\, dS` in mJy² sr⁻¹ (zero where s_hi <= s_min)."""
    a, s0, s_min = cfg.counts_slope, cfg.pivot_mjy, cfg.s_min_mjy
    s_hi = np.maximum(s_hi, s_min)
    if np.isclose(a, 3.0):
        integral = np.log(s_hi / s_min)
    else:
        integral = (s_hi ** (3 - a) - s_min ** (3 - a)) / (3 - a)
    return cfg.counts_norm_per_sr_per_mjy * s0**a * integral


def poisson_cl(cfg: SourcePopulationParams, *, freq_ghz: float, flux_cut_mjy: float = np.inf,
               cut_freq_ghz: float | None = None, tcmb_k: float = 2.7255) -> float:
    """Shot-noise power of the population in a band, counting sources fainter than a flux cut.

    .. math:: C_\\ell = \\left(\\frac{\\partial T}{\\partial B_\\nu}\\right)^2
              \\int da\\, \\mathcal{N}(a; \\bar a, \\sigma_a)
              \\int_{s_{\\min}}^{\\min(s_{\\max},\\, S_{\\rm cut} r_{\\rm cut}^{-a})} S^2 r^{2a} \\frac{dN}{dS} dS,
              \\qquad r = \\nu / \\nu_{\\rm ref},\\ r_{\\rm cut} = \\nu_{\\rm cut} / \\nu_{\\rm ref},

    independent of ℓ (unclustered sources); the spectral-index integral is done
    on a grid of ±6σ.

    Parameters
    ----------
    cfg : SourcePopulationParams
    freq_ghz : float
        Band centre, GHz.
    flux_cut_mjy : float
        Only sources fainter than this count (``inf``: all).
    cut_freq_ghz : float, optional
        Band in which the cut applies (default: ``freq_ghz``).
    tcmb_k : float

    Returns
    -------
    float
        :math:`C_\\ell` in µK² (sr); :math:`D_\\ell = \\ell(\\ell+1) C_\\ell / 2\\pi`.
    """
    ratio = freq_ghz / cfg.ref_freq_ghz
    if cfg.spectral_index_scatter > 0:
        index = cfg.spectral_index + cfg.spectral_index_scatter * np.linspace(-6, 6, 481)
        weight = np.exp(-0.5 * ((index - cfg.spectral_index) / cfg.spectral_index_scatter) ** 2)
        weight /= weight.sum()
    else:
        index, weight = np.array([cfg.spectral_index]), np.array([1.0])
    cut_ratio = (freq_ghz if cut_freq_ghz is None else cut_freq_ghz) / cfg.ref_freq_ghz
    s_hi = np.minimum(cfg.s_max_mjy, flux_cut_mjy / cut_ratio**index)
    cl_mjy2 = float(np.sum(weight * ratio ** (2 * index) * _flux_moment2(cfg, s_hi)))
    uk_per_mjy_sr = mjy_to_uk(1.0, freq_ghz, pixel_area_sr=1.0, tcmb_k=tcmb_k)
    return cl_mjy2 * uk_per_mjy_sr**2


def empty_source_table(freqs_ghz) -> Table:
    """A source catalogue with no rows and every column of :func:`sample_sources`."""
    return _source_table(np.zeros(0), np.zeros(0), np.zeros(0, dtype=str), np.zeros(0), np.zeros((0, len(freqs_ghz))),
                         freqs_ghz)


def _source_table(ra, dec, population, index, fluxes, freqs_ghz) -> Table:
    n = len(ra)
    table = Table(
        [np.arange(n, dtype=np.int64), np.asarray(ra) * u.deg, np.asarray(dec) * u.deg,
         np.asarray(population, dtype="U5"), np.asarray(index, dtype=np.float64)],
        names=("source_id", "ra", "dec", "population", "spectral_index"),
    )
    for k, freq in enumerate(freqs_ghz):
        table[flux_column(freq)] = fluxes[:, k] * u.mJy
        table[flux_column(freq)].description = f"flux density at {freq:g} GHz"
    table["ra"].description = "right ascension of the pixel centre holding the source"
    table["dec"].description = "declination of the pixel centre holding the source"
    table["spectral_index"].description = "flux index a: S_nu ∝ nu^a"
    return table


def sample_sources(shape, wcs, cfg: SourcePopulationParams, *, seed: SeedLike, population: str,
                   freqs_ghz=(90.0, 148.0, 219.0)) -> Table:
    """Draw a source population over the patch.

    Fluxes at ``cfg.ref_freq_ghz`` come from inverse-CDF sampling of the
    power-law counts,
    :math:`S = [s_{\\min}^{1-\\alpha} + u\\,(s_{\\max}^{1-\\alpha} - s_{\\min}^{1-\\alpha})]^{1/(1-\\alpha)}`,
    :math:`u \\sim U(0, 1)`; the number is Poisson with mean
    :func:`expected_source_count`.

    Parameters
    ----------
    shape, wcs
        The patch geometry (CAR).
    cfg : SourcePopulationParams
    seed : int, SeedSequence or Generator
        Random state (count, positions, fluxes, spectral indices).
    population : {'radio', 'ir'}
        Label written to the ``population`` column.
    freqs_ghz : sequence of float
        Bands for which flux columns are made.

    Returns
    -------
    astropy.table.Table
        ``source_id`` (int, 0 … n−1), ``ra``, ``dec`` [deg, pixel centre],
        ``population`` (str), ``spectral_index``, and ``flux_<band>_mjy`` [mJy]
        per band (:func:`flux_column`).

    Raises
    ------
    ConfigError
        For an unknown ``population``.
    """
    if population not in SOURCE_POPULATIONS:
        raise ConfigError(f"unknown source population {population!r}; use one of {SOURCE_POPULATIONS}")
    rng = as_generator(seed)
    freqs = tuple(float(f) for f in freqs_ghz)
    n = int(rng.poisson(expected_source_count(cfg, solid_angle_sr=patch_solid_angle_sr(shape, wcs))))
    ra, dec = uniform_positions(shape, wcs, n, rng)
    if n:  # pixell cannot map zero positions; an empty draw is an empty table with every column
        _, _, ra, dec = pixel_centres(shape, wcs, ra, dec)
    a = cfg.counts_slope
    lo, hi = cfg.s_min_mjy ** (1 - a), cfg.s_max_mjy ** (1 - a)
    flux_ref = (lo + rng.uniform(size=n) * (hi - lo)) ** (1 / (1 - a))
    index = cfg.spectral_index + cfg.spectral_index_scatter * rng.standard_normal(n)
    fluxes = flux_ref[:, None] * (np.asarray(freqs)[None, :] / cfg.ref_freq_ghz) ** index[:, None]
    table = _source_table(ra, dec, np.full(n, population), index, fluxes, freqs)
    table.meta.update({"POP": population, "REFFREQ": cfg.ref_freq_ghz})
    return table


def source_map(shape, wcs, sources: Table, *, freq_ghz: float, tcmb_k: float = 2.7255) -> enmap.ndmap:
    """Point sources as single bright pixels (before the beam).

    Parameters
    ----------
    shape, wcs
        The patch geometry (CAR).
    sources : astropy.table.Table
        ``ra``, ``dec`` [deg] and ``flux_<band>_mjy`` for ``freq_ghz``.
    freq_ghz : float
        Band centre, GHz.
    tcmb_k : float

    Returns
    -------
    enmap.ndmap of shape (ny, nx), float64
        ΔT in µK_CMB: each source adds ``mjy_to_uk(flux, freq_ghz,
        pixel_area_sr=<area of its pixel>)`` to its pixel.
    """
    column = flux_column(freq_ghz)
    require_columns(sources, ("ra", "dec", column), "source_map", maker="skysieve.sim.sample_sources")
    ny, nx = int(shape[-2]), int(shape[-1])
    out = enmap.zeros((ny, nx), wcs, dtype=np.float64)
    if len(sources) == 0:
        return out
    iy, ix, _, _ = pixel_centres((ny, nx), wcs, column_values(sources["ra"], u.deg),
                                 column_values(sources["dec"], u.deg))
    pixel_area = np.asarray(enmap.pixsizemap((ny, nx), wcs, broadcastable=True))[:, 0]
    delta = mjy_to_uk(column_values(sources[column], u.mJy), freq_ghz, pixel_area_sr=pixel_area[iy], tcmb_k=tcmb_k)
    np.add.at(out, (iy, ix), delta)
    return out
