"""The kinetic Sunyaev–Zel'dovich effect of the halo catalogue.

A halo moving with line-of-sight velocity :math:`v` (positive when receding)
changes the CMB temperature by

.. math:: \\frac{\\Delta T}{T_{\\rm CMB}} = -\\tau\\,\\frac{v}{c}, \\qquad
          \\tau = y\\,\\frac{m_e c^2}{k_B T_e},

so the kSZ map is the tSZ profile of each halo (β-model or GNFW) scaled by
:math:`-(m_e c^2 / k_B T_e)(v/c)`.  The (isothermal) electron temperature
comes from a self-similar mass–temperature relation normalised to Arnaud,
Pointecouteau & Pratt (2005):

.. math:: k_B T_e = 5\\ {\\rm keV}
          \\left(\\frac{E(z)\\, M_{500c}}{3.84\\times10^{14}\\,h_{70}^{-1}M_\\odot}\\right)^{2/3}.

kSZ is the same in every band in CMB temperature units.
"""

import astropy.constants as const
import astropy.units as u
import numpy as np
from astropy.table import Table
from pixell import enmap

from skysieve.config import CosmologyParams, TszParams
from skysieve.sim._tables import column_values, require_columns
from skysieve.sim.cosmo import astropy_cosmology
from skysieve.sim.tsz import paint_halo_signal

__all__ = ["electron_temperature_kev", "ksz_map", "tau_over_y"]

_ME_C2_KEV = (const.m_e * const.c**2).to_value(u.keV)
_C_KMS = const.c.to_value(u.km / u.s)


def electron_temperature_kev(m500c_msun, z, cosmo: CosmologyParams, *, t_pivot_kev: float = 5.0,
                             m_pivot_msun: float = 3.84e14):
    """Self-similar cluster temperature :math:`k_B T_e = T_* (E(z) M_{500c} h_{70} / M_*)^{2/3}`.

    Parameters
    ----------
    m500c_msun : float or array_like
        :math:`M_{500c}` in Msun.
    z : float or array_like
        Redshift.
    cosmo : CosmologyParams
    t_pivot_kev, m_pivot_msun : float
        :math:`T_*` (keV) and :math:`M_*` (:math:`h_{70}^{-1}` Msun).

    Returns
    -------
    ndarray
        :math:`k_B T_e` in keV.
    """
    h70 = cosmo.H0 / 70.0
    ez = astropy_cosmology(cosmo).efunc(np.asarray(z, dtype=np.float64))
    return t_pivot_kev * (ez * np.asarray(m500c_msun, dtype=np.float64) * h70 / m_pivot_msun) ** (2.0 / 3.0)


def tau_over_y(t_e_kev):
    """Optical depth per unit Compton y of isothermal gas: :math:`m_e c^2 / k_B T_e` (511 keV / T)."""
    return _ME_C2_KEV / np.asarray(t_e_kev, dtype=np.float64)


def ksz_map(shape, wcs, halos: Table, cosmo: CosmologyParams, cfg: TszParams, *, oversample: int = 5) -> enmap.ndmap:
    """Map of :math:`\\Delta T / T_{\\rm CMB}` from the haloes' peculiar velocities.

    Parameters
    ----------
    shape, wcs
        The patch geometry (CAR).
    halos : astropy.table.Table
        From :func:`skysieve.sim.sample_halos`: ``ra``, ``dec``, ``z``, ``m500c``,
        ``y5r500_arcmin2``, ``theta_c_arcmin``, ``theta500_arcmin``, ``v_los_kms``.
    cosmo : CosmologyParams
    cfg : TszParams
        The profile, its truncation and ``point_below_msun`` (same as the tSZ,
        :func:`skysieve.sim.tsz.paint_halo_signal`).
    oversample : int
        Sub-pixels per axis in the central pixels.

    Returns
    -------
    enmap.ndmap of shape (ny, nx), float64
        :math:`\\Delta T / T_{\\rm CMB}` (dimensionless); multiply by
        :math:`T_{\\rm CMB}` in µK for every band.
    """
    require_columns(halos, ("ra", "dec", "z", "m500c", "y5r500_arcmin2", "theta_c_arcmin", "theta500_arcmin",
                            "v_los_kms"), "ksz_map", maker="skysieve.sim.sample_halos")
    t_e = electron_temperature_kev(column_values(halos["m500c"], u.Msun),
                                   column_values(halos["z"], u.dimensionless_unscaled), cosmo)
    amplitude = (-tau_over_y(t_e) * column_values(halos["v_los_kms"], u.km / u.s) / _C_KMS
                 * column_values(halos["y5r500_arcmin2"], u.arcmin**2))
    return paint_halo_signal(shape, wcs, halos, amplitude, cfg, oversample=oversample)
