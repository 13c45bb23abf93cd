"""Galaxy clusters as the simulator draws them: NFW sizes, members, red-sequence colours, magnitudes.

Physics only (arrays and astropy quantities in, arrays out); rendering is in
:mod:`skysieve.tasks.detect.sim`.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

__all__ = [
    "ClusterHalo",
    "apparent_mag_r",
    "bcg_mean_abs_mag_r",
    "halo",
    "nfw_cumulative",
    "red_sequence_colours",
    "sample_nfw_projected",
    "sample_schechter",
]

#: Red-sequence colours of early-type galaxies against redshift (SDSS, observed frame, after the
#: red-sequence fits of Hao et al. 2009 / the redMaPPer model): z, g − r, r − i.
_RED_SEQUENCE = np.array([
    [0.05, 0.80, 0.38],
    [0.10, 0.95, 0.42],
    [0.20, 1.25, 0.47],
    [0.30, 1.55, 0.55],
    [0.40, 1.75, 0.68],
    [0.50, 1.85, 0.85],
])


@dataclass(frozen=True)
class ClusterHalo:
    """One cluster's halo.

    Attributes
    ----------
    m200_msun : float
        M200c in M☉.
    z : float
    r200_kpc : float
        Proper R200c, kpc.
    concentration : float
        c200c.
    r200_arcsec : float
        R200c seen at ``z`` (angular-diameter distance).
    """

    m200_msun: float
    z: float
    r200_kpc: float
    concentration: float
    r200_arcsec: float


def halo(m200_msun: float, z: float, *, cosmo, astropy_cosmo, concentration_model: str = "duffy08") -> ClusterHalo:
    r"""R200c and c200c of a halo of mass M200c at redshift z.

    .. math:: R_{200c} = \left(\frac{3 M_{200c}}{4 \pi \, 200 \, \rho_c(z)}\right)^{1/3}

    (colossus ``mass_so.M_to_R`` in kpc/h with M in M☉/h), c from colossus'
    ``concentration_model``; the angular size uses astropy's angular-diameter
    distance of the same cosmology.

    Parameters
    ----------
    m200_msun : float
    z : float
    cosmo : CosmologyParams
    astropy_cosmo : astropy.cosmology.FLRW
    concentration_model : str

    Returns
    -------
    ClusterHalo
    """
    from colossus.halo import concentration, mass_so

    from skysieve.sim.cosmo import colossus_cosmology

    h = colossus_cosmology(cosmo).h
    r200_kpc = float(mass_so.M_to_R(m200_msun * h, z, "200c")) / h  # physical kpc/h → kpc
    c = float(concentration.concentration(m200_msun * h, "200c", z, model=concentration_model))
    da_kpc = float(astropy_cosmo.angular_diameter_distance(z).to_value("kpc"))
    return ClusterHalo(m200_msun, z, r200_kpc, c, np.degrees(r200_kpc / da_kpc) * 3600.0)


def _mu(x: np.ndarray) -> np.ndarray:
    return np.log1p(x) - x / (1 + x)


def nfw_cumulative(x: np.ndarray, c: float) -> np.ndarray:
    r"""Fraction of an NFW halo truncated at R200 inside 3-d radius ``x = r / R200``.

    .. math:: F(x) = \frac{\mu(c x)}{\mu(c)}, \qquad \mu(y) = \ln(1 + y) - \frac{y}{1 + y}
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0, 1)
    return _mu(c * x) / _mu(c)


def sample_nfw_projected(n: int, *, c: float, rng: np.random.Generator) -> np.ndarray:
    """Projected offsets (x, y) in units of R200 of ``n`` tracers of an NFW halo truncated at R200.

    The 3-d radius is drawn by inverting :func:`nfw_cumulative` (root finding),
    the direction isotropically; the offsets are the projection on the sky.

    Returns
    -------
    ndarray of shape (n, 2)
    """
    u = rng.random(n)
    r = np.array([brentq(lambda x, ui=ui: nfw_cumulative(x, c) - ui, 0.0, 1.0) for ui in u])
    cos_t = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    return np.column_stack([r * sin_t * np.cos(phi), r * sin_t * np.sin(phi)])


def sample_schechter(n: int, *, mstar: float, alpha: float, faint: float, rng: np.random.Generator) -> np.ndarray:
    r"""``n`` absolute magnitudes from a Schechter luminosity function between M* − 3 and ``faint``.

    .. math:: \phi(M) \propto 10^{0.4 (\alpha + 1)(M^* - M)} \exp\left(-10^{0.4 (M^* - M)}\right)

    sampled by inverting its tabulated cumulative distribution.
    """
    grid = np.linspace(mstar - 3.0, faint, 2000)
    lum = 10 ** (0.4 * (mstar - grid))
    pdf = lum ** (alpha + 1) * np.exp(-lum)
    cdf = np.cumsum(pdf)
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def red_sequence_colours(z: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Observed g − r and r − i of the red sequence at redshift ``z`` (linear interpolation of the table)."""
    z = np.asarray(z, dtype=np.float64)
    zs = _RED_SEQUENCE[:, 0]
    return np.interp(z, zs, _RED_SEQUENCE[:, 1]), np.interp(z, zs, _RED_SEQUENCE[:, 2])


def apparent_mag_r(abs_mag_r: np.ndarray | float, z: float, *, astropy_cosmo,
                   evolution_q: float = 0.0) -> np.ndarray:
    r"""Apparent r magnitude of an early-type galaxy: :math:`m = M + \mu(z) + K_r(z) - Q z`.

    :math:`\mu` is astropy's distance modulus; :math:`K_r(z) \approx 1.1 z`, a
    linear fit to the r-band K-correction of an elliptical template at
    z < 0.5 (Blanton & Roweis 2007 give 0.1 at z = 0.1 and 0.45 at 0.4).
    :math:`M` is the absolute magnitude the galaxy has today; :math:`Q` (mag
    per unit redshift) is the passive evolution of its old stellar population,
    brighter in the past: :math:`M(z) = M(0) - Q z`.
    """
    mu = float(astropy_cosmo.distmod(z).value)
    return np.asarray(abs_mag_r, dtype=np.float64) + mu + 1.1 * z - evolution_q * z


def bcg_mean_abs_mag_r(m200: np.ndarray | float, *, at_pivot: float, slope: float, pivot_m200: float) -> np.ndarray:
    r"""Mean absolute r magnitude of the BCG of a cluster of mass :math:`M_{200}`.

    .. math:: \langle M_\mathrm{BCG} \rangle = M_\mathrm{pivot} - 2.5\,\beta\,\log_{10}(M_{200}/M_p),

    i.e. :math:`L_\mathrm{BCG} \propto M_{200}^{\beta}`; Lin & Mohr (2004) measure
    :math:`\beta = 0.26 \pm 0.04` (K band, 93 clusters), and richer clusters have brighter BCGs in
    SDSS too (Wen et al. 2012). ``slope = 0`` gives one mean for every mass.
    """
    return at_pivot - 2.5 * slope * np.log10(np.asarray(m200, dtype=np.float64) / pivot_m200)
