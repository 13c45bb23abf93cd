"""Halo light cone: mass-function integral, Poisson sampling, columns and mass conversion."""

import astropy.units as u
import numpy as np
import pytest
from scipy import integrate

from skysieve.config import HaloParams, KszParams, PatchParams, TszParams
from skysieve.sim import (
    HALO_COLUMNS,
    astropy_cosmology,
    colossus_cosmology,
    expected_halo_count,
    m500c_to_mvir,
    make_geometry,
    sample_halos,
)
from skysieve.sim._geometry import patch_solid_angle_sr

DEG2_SR = (np.pi / 180) ** 2


@pytest.fixture(scope="module")
def wide():
    """A 10° × 10° patch with coarse 5′ pixels: many haloes, few pixels."""
    return make_geometry(PatchParams(width_deg=10.0, height_deg=10.0, pixel_arcmin=5.0))


def independent_count(cfg, cosmo, omega_sr):
    """∫∫ dn/dlnM dV/dz dΩ Ω with scipy's Simpson rule on a fine grid, straight from colossus and astropy."""
    from colossus.lss import mass_function

    h = colossus_cosmology(cosmo).h
    z = np.linspace(cfg.z_min, cfg.z_max, 301)
    lnm = np.linspace(np.log(cfg.m_min_msun), np.log(cfg.m_max_msun), 401)
    dndlnm = np.array([mass_function.massFunction(np.exp(lnm) * h, zz, mdef="500c", model="tinker08",
                                                  q_out="dndlnM") * h**3 for zz in z])
    dv = astropy_cosmology(cosmo).differential_comoving_volume(z).to_value(u.Mpc**3 / u.sr)
    return integrate.simpson(integrate.simpson(dndlnm, x=lnm, axis=1) * dv, x=z) * omega_sr


def test_expected_count_matches_independent_integral(cosmo, wide):
    cfg = HaloParams()
    shape, wcs = wide
    omega = patch_solid_angle_sr(shape, wcs)
    assert omega / DEG2_SR == pytest.approx(100.0, rel=0.01)
    assert expected_halo_count(shape, wcs, cfg, cosmo) == pytest.approx(independent_count(cfg, cosmo, omega),
                                                                        rel=0.01)


def test_default_density_of_haloes(cosmo):
    shape, wcs = make_geometry(PatchParams())
    per_deg2 = expected_halo_count(shape, wcs, HaloParams(), cosmo) / (patch_solid_angle_sr(shape, wcs) / DEG2_SR)
    assert 35 < per_deg2 < 48  # ~41.5 deg⁻² with M500c > 5e13 Msun, 0.05 < z < 2 (Planck 2018, Tinker08)


def test_sample_counts_and_distributions_agree_with_mass_function(cosmo, wide):
    cfg = HaloParams()
    shape, wcs = wide
    halos = sample_halos(shape, wcs, cfg, cosmo, seed=12)
    n_exp = expected_halo_count(shape, wcs, cfg, cosmo)
    assert halos.meta["N_EXPECT"] == pytest.approx(n_exp)
    assert abs(len(halos) - n_exp) < 4 * np.sqrt(n_exp)
    # Sub-populations against the independent integral over the same cuts.
    omega = patch_solid_angle_sr(shape, wcs)
    for sub_cfg, mask in [
        (cfg.model_copy(update={"z_max": 0.5}), halos["z"] < 0.5),
        (cfg.model_copy(update={"m_min_msun": 2e14}), halos["m500c"] > 2e14),
    ]:
        expected = independent_count(sub_cfg, cosmo, omega)
        assert abs(mask.sum() - expected) < 4 * np.sqrt(expected), (mask.sum(), expected)


def test_halo_columns_units_and_relations(cosmo, wide):
    shape, wcs = wide
    tsz, ksz = TszParams(rc_over_r500=0.25), KszParams(velocity_dispersion_kms=500.0)
    halos = sample_halos(shape, wcs, HaloParams(m_min_msun=1e14), cosmo, seed=1, tsz=tsz, ksz=ksz)
    assert tuple(halos.colnames) == HALO_COLUMNS
    units = {"ra": u.deg, "dec": u.deg, "m500c": u.Msun, "mvir": u.Msun, "r500_mpc": u.Mpc,
             "theta500_arcmin": u.arcmin, "theta_c_arcmin": u.arcmin, "y5r500_arcmin2": u.arcmin**2,
             "v_los_kms": u.km / u.s}
    for name, unit in units.items():
        assert halos[name].unit == unit, name
    np.testing.assert_array_equal(halos["halo_id"], np.arange(len(halos)))
    assert np.all((halos["m500c"] >= 1e14) & (halos["m500c"] <= 5e15))
    assert np.all((halos["z"] >= 0.05) & (halos["z"] <= 2.0))
    ratio = np.asarray(halos["mvir"] / halos["m500c"])
    assert np.all((ratio > 1.2) & (ratio < 2.2))
    np.testing.assert_allclose(halos["theta_c_arcmin"], 0.25 * halos["theta500_arcmin"])
    d_a = astropy_cosmology(cosmo).angular_diameter_distance(np.asarray(halos["z"])).to_value(u.Mpc)
    np.testing.assert_allclose(np.radians(halos["theta500_arcmin"] / 60) * d_a, halos["r500_mpc"], rtol=1e-10)
    assert np.std(halos["v_los_kms"]) == pytest.approx(500.0, rel=4 / np.sqrt(2 * len(halos)) + 0.01)
    # positions fill the patch
    assert 10.0 - 0.1 < halos["ra"].max() - halos["ra"].min() <= 10.0
    assert abs(np.mean(halos["dec"])) < 0.5


def test_sample_halos_seeded(cosmo, geometry):
    shape, wcs = geometry(60, 2.0)
    cfg = HaloParams(m_min_msun=1e14, n_z=10)
    a = sample_halos(shape, wcs, cfg, cosmo, seed=3)
    b = sample_halos(shape, wcs, cfg, cosmo, seed=3)
    c = sample_halos(shape, wcs, cfg, cosmo, seed=4)
    assert len(a) > 0
    for name in a.colnames:
        np.testing.assert_array_equal(a[name], b[name])
    assert len(a) != len(c) or not np.array_equal(a["ra"], c["ra"])


def test_empty_light_cone(cosmo, geometry):
    shape, wcs = geometry(8, 0.25)
    halos = sample_halos(shape, wcs, HaloParams(m_min_msun=4e15), cosmo, seed=0)
    assert len(halos) == 0 and tuple(halos.colnames) == HALO_COLUMNS


def test_m500c_to_mvir_interpolation_matches_colossus(cosmo):
    from colossus.halo import mass_adv

    rng = np.random.default_rng(0)
    m = 10 ** rng.uniform(13.7, 15.5, 25)
    z = rng.uniform(0.05, 2.0, 25)
    fast = m500c_to_mvir(m, z, cosmo)
    h = colossus_cosmology(cosmo).h
    direct = np.array([mass_adv.changeMassDefinitionCModel(mi * h, zi, "500c", "vir", c_model="diemer19")[0] / h
                       for mi, zi in zip(m, z)])
    np.testing.assert_allclose(fast, direct, rtol=1e-3)
