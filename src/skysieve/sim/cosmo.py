"""One cosmology, three libraries: astropy (distances), colossus (mass function), CAMB (CMB).

All three are built from the same :class:`~skysieve.config.CosmologyParams`.
Conventions shared by every consumer:

* ``Om0`` and ``Ob0`` are the present-day densities of cold dark matter plus
  baryons, and of baryons, in units of the critical density.  Massive
  neutrinos (one species of mass ``mnu_ev``) come on top in astropy and CAMB;
  colossus has no massive neutrinos and treats them as relativistic
  (``Neff``), a sub-per-cent difference at the redshifts of clusters.
* ``Neff`` = 3.046 everywhere.
* The matter power spectrum of colossus is normalised by ``sigma8``; the CMB
  of CAMB by ``As``.  Keep them consistent in ``params.yaml``.
"""

import functools
import hashlib

import astropy.units as u
from astropy.cosmology import FlatLambdaCDM

from skysieve.config import CosmologyParams

__all__ = ["NEFF", "astropy_cosmology", "colossus_cosmology"]

NEFF = 3.046
"""Effective number of relativistic species used by every library."""


@functools.lru_cache(maxsize=8)
def astropy_cosmology(cosmo: CosmologyParams) -> FlatLambdaCDM:
    """The flat ΛCDM of ``cosmo`` as an astropy cosmology.

    Parameters
    ----------
    cosmo : CosmologyParams
        ``H0`` [km/s/Mpc], ``Om0``, ``Ob0``, ``Tcmb0_k`` [K], ``mnu_ev`` [eV].

    Returns
    -------
    astropy.cosmology.FlatLambdaCDM
        With ``Tcmb0``, ``Neff`` = 3.046 and neutrino masses ``[mnu_ev, 0, 0]`` eV.
    """
    return FlatLambdaCDM(
        H0=cosmo.H0 * u.km / u.s / u.Mpc,
        Om0=cosmo.Om0,
        Ob0=cosmo.Ob0,
        Tcmb0=cosmo.Tcmb0_k * u.K,
        Neff=NEFF,
        m_nu=[cosmo.mnu_ev, 0.0, 0.0] * u.eV,
        name="skysieve",
    )


def _colossus_name(cosmo: CosmologyParams) -> str:
    digest = hashlib.sha1(cosmo.model_dump_json().encode()).hexdigest()[:10]
    return f"skysieve-{digest}"


@functools.lru_cache(maxsize=8)
def _build_colossus(cosmo: CosmologyParams):
    from colossus.cosmology import cosmology

    params = dict(flat=True, H0=cosmo.H0, Om0=cosmo.Om0, Ob0=cosmo.Ob0, sigma8=cosmo.sigma8, ns=cosmo.ns,
                  Tcmb0=cosmo.Tcmb0_k, Neff=NEFF, relspecies=True)
    # persistence='' keeps colossus from writing look-up tables under the home directory.
    return cosmology.Cosmology(name=_colossus_name(cosmo), persistence="", **params)


def colossus_cosmology(cosmo: CosmologyParams):
    """Make the colossus cosmology of ``cosmo`` current and return it.

    colossus functions (mass function, concentrations) read a module-level
    "current" cosmology; every skysieve function that calls colossus calls this
    first, so the numbers always come from ``cosmo`` and never from whatever was
    set before.  Cosmology objects are cached per ``cosmo`` (their interpolation
    tables are built once per process, nothing is written to disk).

    Parameters
    ----------
    cosmo : CosmologyParams
        ``H0``, ``Om0``, ``Ob0``, ``sigma8``, ``ns``, ``Tcmb0_k``.

    Returns
    -------
    colossus.cosmology.cosmology.Cosmology
        The object now current in colossus.
    """
    from colossus.cosmology import cosmology

    obj = _build_colossus(cosmo)
    cosmology.setCurrent(obj)
    return obj
