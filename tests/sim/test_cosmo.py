"""One cosmology in astropy and colossus: same numbers, same distances."""

import astropy.units as u
import pytest

from skysieve.config import CosmologyParams
from skysieve.sim import astropy_cosmology, colossus_cosmology


def test_astropy_cosmology_carries_every_parameter(cosmo):
    astro = astropy_cosmology(cosmo)
    assert astro.H0.to_value(u.km / u.s / u.Mpc) == cosmo.H0
    assert astro.Om0 == cosmo.Om0 and astro.Ob0 == cosmo.Ob0
    assert astro.Tcmb0.to_value(u.K) == cosmo.Tcmb0_k
    assert astro.m_nu.to_value(u.eV).sum() == pytest.approx(cosmo.mnu_ev)
    assert astro.Ode0 == pytest.approx(1 - cosmo.Om0, abs=0.003)  # flat (radiation and neutrinos take the rest)


def test_colossus_and_astropy_distances_agree(cosmo):
    col = colossus_cosmology(cosmo)
    astro = astropy_cosmology(cosmo)
    for z in (0.3, 1.0, 2.0):
        d_col = col.comovingDistance(z_min=0.0, z_max=z) / col.h  # Mpc/h -> Mpc
        # massive neutrinos exist only in astropy: agreement to a few 1e-4
        assert d_col == pytest.approx(astro.comoving_distance(z).to_value(u.Mpc), rel=2e-3)


def test_colossus_cosmology_becomes_current_and_follows_params():
    from colossus.cosmology import cosmology

    cosmology.setCosmology("WMAP9")  # something else is current
    other = CosmologyParams(sigma8=0.75, H0=70.0)
    col = colossus_cosmology(other)
    assert cosmology.getCurrent() is col
    assert col.sigma8 == 0.75 and col.H0 == 70.0
    assert colossus_cosmology(CosmologyParams()).sigma8 == pytest.approx(0.8102)
