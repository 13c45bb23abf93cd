"""Point sources that live in haloes (radio AGN, dusty cluster galaxies), on top of the field populations.

Real SZ clusters host radio galaxies (and, at high z, dusty star-forming
members) whose flux fills in the decrement; the field populations of
:mod:`skysieve.sim.sources` are placed uniformly and know nothing of the
haloes.  Here each halo with :math:`M_{500c} \\ge M_{\\min}` holds

.. math:: N \\sim {\\rm Poisson}\\!\\left(n_{14}\\,\\frac{M_{500c}}{10^{14} M_\\odot}\\right)

sources (an occupation proportional to mass), at projected distances from its
centre drawn from a β = 1 profile truncated at :math:`\\theta_{\\max} = r_{\\max}\\theta_{500}`,
:math:`\\Sigma(\\theta) \\propto (1 + \\theta^2/\\theta_c^2)^{-1}`,
:math:`\\theta_c = r_c\\theta_{500}`, by inverting its cumulative distribution

.. math:: F(\\theta) = \\frac{\\ln(1 + \\theta^2/\\theta_c^2)}{\\ln(1 + \\theta_{\\max}^2/\\theta_c^2)}
          \\ \\Rightarrow\\ \\theta = \\theta_c\\sqrt{(1 + \\theta_{\\max}^2/\\theta_c^2)^{u} - 1},
          \\quad u \\sim U(0, 1),

at a uniform position angle.  Fluxes follow the power-law counts of the chosen
field population (slope, spectral indices, ``s_max_mjy``) above ``s_min_mjy``.
Like the field sources they sit at pixel centres (their catalogue positions
are those centres) and are labelled with their population, so the matched
filter's catalogue subtraction treats them the same; ``host_halo_id`` says
which halo holds each (−1 for field sources).  Sources whose position falls
off the patch are dropped.
"""

import astropy.units as u
import numpy as np
from astropy.table import Table, vstack

from skysieve.config import ClusterSourcesParams, SimulateSzParams, SourcePopulationParams
from skysieve.sim._geometry import car_bounds, pixel_centres
from skysieve.sim._random import SeedLike, as_generator
from skysieve.sim._tables import column_values, require_columns
from skysieve.sim.sources import _source_table

__all__ = ["expected_cluster_source_counts", "sample_cluster_sources", "with_cluster_sources"]


def expected_cluster_source_counts(halos: Table, cfg: ClusterSourcesParams) -> np.ndarray:
    """Mean number of sources in each halo: :math:`n_{14} M_{500c}/10^{14}` above ``m_min_msun``, else 0.

    Returns
    -------
    ndarray of shape (len(halos),)
    """
    m500 = column_values(halos["m500c"], u.Msun)
    return np.where(m500 >= cfg.m_min_msun, cfg.n_per_1e14_msun * m500 / 1e14, 0.0)


def sample_cluster_sources(shape, wcs, halos: Table, cfg: ClusterSourcesParams, population: SourcePopulationParams,
                           *, seed: SeedLike, freqs_ghz=(90.0, 148.0, 219.0)) -> Table:
    """Draw the sources held by the haloes.

    Parameters
    ----------
    shape, wcs
        The patch geometry (CAR).
    halos : astropy.table.Table
        From :func:`skysieve.sim.sample_halos`: ``halo_id``, ``ra``, ``dec``,
        ``m500c``, ``theta500_arcmin``.
    cfg : ClusterSourcesParams
        Occupation, radial distribution, ``population`` and ``s_min_mjy``.
    population : SourcePopulationParams
        The field population whose counts slope, ``s_max_mjy``, reference
        frequency and spectral indices the fluxes follow.
    seed : int, SeedSequence or Generator
        Random state (counts, radii, angles, fluxes, indices).
    freqs_ghz : sequence of float
        Bands for which flux columns are made.

    Returns
    -------
    astropy.table.Table
        The columns of :func:`skysieve.sim.sample_sources` plus ``host_halo_id``.
    """
    require_columns(halos, ("halo_id", "ra", "dec", "m500c", "theta500_arcmin"), "sample_cluster_sources",
                    maker="skysieve.sim.sample_halos")
    rng = as_generator(seed)
    freqs = tuple(float(f) for f in freqs_ghz)
    counts = rng.poisson(expected_cluster_source_counts(halos, cfg))
    host = np.repeat(np.arange(len(halos)), counts)
    n = host.size
    theta500 = column_values(halos["theta500_arcmin"], u.arcmin)[host]
    theta_c, theta_max = cfg.rc_over_r500 * theta500, cfg.r_max_r500 * theta500
    radius = theta_c * np.sqrt((1.0 + (theta_max / theta_c) ** 2) ** rng.uniform(size=n) - 1.0)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    dec0 = np.deg2rad(column_values(halos["dec"], u.deg)[host])
    dec = np.rad2deg(dec0) + radius * np.cos(angle) / 60.0
    ra = column_values(halos["ra"], u.deg)[host] + radius * np.sin(angle) / 60.0 / np.cos(dec0)
    a = population.counts_slope
    lo, hi = cfg.s_min_mjy ** (1 - a), population.s_max_mjy ** (1 - a)
    flux_ref = (lo + rng.uniform(size=n) * (hi - lo)) ** (1 / (1 - a))
    index = population.spectral_index + population.spectral_index_scatter * rng.standard_normal(n)
    ra_lo, ra_hi, dec_lo, dec_hi = np.rad2deg(car_bounds(shape, wcs))
    ra_unwrapped = ra_lo + np.mod(ra - ra_lo, 360.0)
    inside = (ra_unwrapped < ra_hi) & (dec >= dec_lo) & (dec < dec_hi)
    host, ra, dec, flux_ref, index = host[inside], ra[inside], dec[inside], flux_ref[inside], index[inside]
    _, _, ra, dec = pixel_centres(shape, wcs, ra, dec)
    fluxes = flux_ref[:, None] * (np.asarray(freqs)[None, :] / population.ref_freq_ghz) ** index[:, None]
    table = _source_table(ra, dec, np.full(ra.size, cfg.population), index, fluxes, freqs)
    table["host_halo_id"] = np.asarray(halos["halo_id"], dtype=np.int64)[host]
    table["host_halo_id"].description = "halo holding the source (-1: field source)"
    table.meta.update({"POP": cfg.population, "REFFREQ": population.ref_freq_ghz, "CLUSTER": True})
    return table


def with_cluster_sources(field: Table, shape, wcs, halos: Table, cfg: SimulateSzParams, *, seed: SeedLike) -> Table:
    """The field catalogue followed by the haloes' sources (``cfg.cluster_sources``), ids renumbered.

    The field rows keep their order and ids; ``host_halo_id`` is −1 for them.
    Fluxes follow ``cfg.<cfg.cluster_sources.population>``; flux columns are
    those of ``field``.
    """
    freqs = tuple(float(b.freq_ghz) for b in cfg.bands)
    clustered = sample_cluster_sources(shape, wcs, halos, cfg.cluster_sources,
                                       getattr(cfg, cfg.cluster_sources.population), seed=seed, freqs_ghz=freqs)
    field = field.copy(copy_data=False)
    field["host_halo_id"] = np.full(len(field), -1, dtype=np.int64)
    out = vstack([field, clustered], metadata_conflicts="silent")
    out["source_id"] = np.arange(len(out), dtype=np.int64)
    out["host_halo_id"].description = "halo holding the source (-1: field source)"
    out.meta = {**field.meta, "NCLUSTER": len(clustered)}
    return out
