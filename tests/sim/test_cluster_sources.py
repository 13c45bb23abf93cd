"""Sources in haloes: occupation, radial distribution, fluxes, and the field population left as it was."""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from pixell import enmap
from scipy import stats

from skysieve.config import ClusterSourcesParams, ComponentsParams, PatchParams, SimulateSzParams
from skysieve.sim import make_geometry, simulate_sky
from skysieve.sim.cluster_sources import expected_cluster_source_counts, sample_cluster_sources

RADIO = SimulateSzParams().radio


def halo_grid(shape, wcs, masses, theta500_arcmin):
    """Haloes on a regular grid of pixel positions well inside the patch."""
    n = len(masses)
    side = int(np.ceil(np.sqrt(n)))
    ny, nx = shape
    iy, ix = np.divmod(np.arange(n), side)
    pix = np.vstack([(iy + 1) * ny / (side + 1), (ix + 1) * nx / (side + 1)]).astype(float)
    dec, ra = np.degrees(enmap.pix2sky(shape, wcs, pix))
    return Table({"halo_id": np.arange(n), "ra": np.mod(ra, 360) * u.deg, "dec": dec * u.deg,
                  "m500c": np.asarray(masses) * u.Msun,
                  "theta500_arcmin": np.broadcast_to(theta500_arcmin, (n,)) * u.arcmin})


def test_occupation_is_proportional_to_mass_within_poisson_noise():
    shape, wcs = make_geometry(PatchParams(width_deg=4, height_deg=4, pixel_arcmin=0.5))
    masses = np.geomspace(5e13, 2e15, 400)
    halos = halo_grid(shape, wcs, masses, 1.5)
    cfg = ClusterSourcesParams(enabled=True, n_per_1e14_msun=0.8, m_min_msun=1e14)
    mu = expected_cluster_source_counts(halos, cfg)
    np.testing.assert_allclose(mu, np.where(masses >= 1e14, 0.8 * masses / 1e14, 0.0))
    cat = sample_cluster_sources(shape, wcs, halos, cfg, RADIO, seed=4)
    counts = np.bincount(cat["host_halo_id"], minlength=len(halos))
    assert counts[masses < 1e14].sum() == 0
    for lo, hi in ((1e14, 3e14), (3e14, 8e14), (8e14, 3e15)):  # the mass dependence, bin by bin
        sel = (masses >= lo) & (masses < hi)
        assert abs(counts[sel].sum() - mu[sel].sum()) < 4 * np.sqrt(mu[sel].sum())
    ref = np.asarray(cat["flux_148GHz_mjy"])  # ref_freq_ghz = 148
    assert ref.min() >= cfg.s_min_mjy * (1 - 1e-9) and ref.max() <= RADIO.s_max_mjy * (1 + 1e-9)
    assert set(cat["population"]) == {"radio"}


def test_radial_distribution_is_the_truncated_beta_profile():
    shape, wcs = make_geometry(PatchParams(width_deg=3, height_deg=3, pixel_arcmin=0.25))
    halos = halo_grid(shape, wcs, [1e16], 30.0)  # one big halo: ~3000 sources
    cfg = ClusterSourcesParams(enabled=True, n_per_1e14_msun=30.0, rc_over_r500=0.2, r_max_r500=1.0)
    cat = sample_cluster_sources(shape, wcs, halos, cfg, RADIO, seed=9)
    centre = SkyCoord(halos["ra"].quantity[0], halos["dec"].quantity[0])
    theta = SkyCoord(cat["ra"].quantity, cat["dec"].quantity).separation(centre).to_value(u.arcmin)
    theta_c, theta_max = 6.0, 30.0

    def cdf(t):
        return np.log1p((np.minimum(t, theta_max) / theta_c) ** 2) / np.log1p((theta_max / theta_c) ** 2)

    assert len(cat) > 2500 and theta.max() < theta_max + 0.2  # pixel snapping: ≤ 0.18′
    assert stats.kstest(theta, cdf).pvalue > 1e-3


def test_excess_counts_around_haloes_in_a_simulated_sky(cosmo):
    comps = ComponentsParams(cmb=False, tsz=False, ksz=False, dust=False, noise=False, beam=False)
    cfg = SimulateSzParams(patch=PatchParams(width_deg=3, height_deg=3, pixel_arcmin=0.5), components=comps,
                           cluster_sources=ClusterSourcesParams(enabled=True, n_per_1e14_msun=3.0, r_max_r500=1.0))
    sky = simulate_sky(cfg, cosmo, cl=None, seed=12)
    halos, src = sky.halos, sky.sources
    field = np.asarray(src["host_halo_id"]) < 0
    # Haloes far enough from the edge that their whole aperture is on the patch.
    shape, wcs = make_geometry(cfg.patch)
    theta500 = np.asarray(halos["theta500_arcmin"])
    pix = enmap.sky2pix(shape, wcs, np.deg2rad(np.vstack([halos["dec"], halos["ra"]])))
    margin = theta500 / 0.5 + 2
    ok = (np.asarray(halos["m500c"]) >= 1e14) & np.all((pix > margin) & (pix < np.array(shape)[:, None] - margin), 0)
    assert ok.sum() >= 10
    s = SkyCoord(src["ra"].quantity, src["dec"].quantity)
    n_in, field_expected = 0, 0.0
    density = field.sum() / (9.0 * 3600.0)  # field sources per arcmin² (patch 3° × 3°)
    for k in np.flatnonzero(ok):
        centre = SkyCoord(halos["ra"].quantity[k], halos["dec"].quantity[k])
        near = s.separation(centre).to_value(u.arcmin) < theta500[k]
        n_in += int(near.sum())
        field_expected += density * np.pi * theta500[k] ** 2
    mu = expected_cluster_source_counts(halos[ok], cfg.cluster_sources).sum()
    excess = n_in - field_expected
    assert abs(excess - mu) < 4 * np.sqrt(mu + field_expected)
    assert excess > 5 * np.sqrt(field_expected)  # the clustering is there, well above the field's noise


def test_off_by_default_and_field_sources_unchanged(tiny_cfg, cosmo, powerlaw_cl):
    assert not SimulateSzParams().cluster_sources.enabled
    base = simulate_sky(tiny_cfg, cosmo, cl=powerlaw_cl, seed=3)
    assert "host_halo_id" not in base.sources.colnames
    on = tiny_cfg.model_copy(update={"cluster_sources": ClusterSourcesParams(enabled=True, m_min_msun=5e13,
                                                                             n_per_1e14_msun=20.0)})
    sky = simulate_sky(on, cosmo, cl=powerlaw_cl, seed=3)
    n = len(base.sources)
    for name in base.sources.colnames:
        np.testing.assert_array_equal(sky.sources[name][:n], base.sources[name])
    np.testing.assert_array_equal(sky.sources["host_halo_id"][:n], -1)
    for name in base.halos.colnames:
        np.testing.assert_array_equal(sky.halos[name], base.halos[name])
    if len(sky.sources) > n:  # the haloes' sources are in the maps
        assert not np.array_equal(sky.maps, base.maps)
