"""The sky-physics switches together in ``simulate_sky``: off changes nothing, on runs and is written out."""

import numpy as np
from astropy.table import Table

from skysieve.config import ClusterSourcesParams, GnfwParams, PatchParams, SimulateSzParams, TszParams
from skysieve.sim import simulate_sky, write_sky


def realistic(cfg: SimulateSzParams) -> SimulateSzParams:
    tsz = TszParams(profile="gnfw", gnfw=GnfwParams(axis_ratio_min=0.5), point_below_msun=5e13)
    return cfg.model_copy(update={"tsz": tsz, "halos": cfg.halos.model_copy(update={"m_min_msun": 1e13}),
                                  "cluster_sources": ClusterSourcesParams(enabled=True, m_min_msun=5e13,
                                                                          n_per_1e14_msun=5.0)})


def test_switches_at_their_defaults_change_nothing(cosmo, powerlaw_cl):
    cfg = SimulateSzParams(patch=PatchParams(width_deg=0.5, height_deg=0.5))
    explicit = cfg.model_copy(update={
        "tsz": TszParams(profile="beta", gnfw=GnfwParams(axis_ratio_min=1.0), point_below_msun=0.0),
        "cluster_sources": ClusterSourcesParams(enabled=False, n_per_1e14_msun=9.0)})
    a = simulate_sky(cfg, cosmo, cl=powerlaw_cl, seed=4)
    b = simulate_sky(explicit, cosmo, cl=powerlaw_cl, seed=4)
    np.testing.assert_array_equal(a.maps, b.maps)
    assert a.halos.colnames == b.halos.colnames and a.sources.colnames == b.sources.colnames


def test_realistic_sky_runs_and_writes_its_truth(cosmo, powerlaw_cl, tmp_path):
    cfg = realistic(SimulateSzParams(patch=PatchParams(width_deg=0.75, height_deg=0.75)))
    sky = simulate_sky(cfg, cosmo, cl=powerlaw_cl, seed=4)
    base = simulate_sky(SimulateSzParams(patch=cfg.patch), cosmo, cl=powerlaw_cl, seed=4)
    assert np.all(np.isfinite(sky.maps)) and not np.array_equal(sky.maps, base.maps)
    assert np.asarray(sky.halos["m500c"]).min() < 2e13 <= 5e13 <= np.asarray(base.halos["m500c"]).min()
    write_sky(sky, tmp_path)
    halos, sources = Table.read(tmp_path / "halos.fits"), Table.read(tmp_path / "sources.fits")
    q = np.asarray(halos["axis_ratio"])
    assert np.all((q >= 0.5) & (q <= 1)) and "position_angle_deg" in halos.colnames
    host = np.asarray(sources["host_halo_id"])
    assert np.count_nonzero(host >= 0) > 10
    assert np.all(np.isin(host[host >= 0], np.asarray(halos["halo_id"])))
    np.testing.assert_array_equal(sources["source_id"], np.arange(len(sources)))
