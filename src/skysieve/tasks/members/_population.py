"""The spectroscopic sources of every cluster: members and interlopers with their truth (no pixels).

Per cluster ``c`` of :class:`~skysieve.tasks.members.params.ClusterSpec`,
``round(sample_scale · n_members)`` members and ``round(sample_scale ·
n_interlopers)`` interlopers are drawn (the paper's Table 1 proportions):

* **members**: ``z = z_c + (1 + z_c) σ_v N(0, 1) / c``; positions from a
  cored isothermal surface density; F814W magnitudes from ``p(m) ∝
  10^{α m}``; a red sequence in the type axis ``t`` with scatter, or a blue
  member with ``t ~ U(blue_t_range)``;
* **interlopers**: ``p(z) ∝ z² exp(−(z/z_0)^{1.5})``, or (``near_fraction``)
  just outside the membership cut; uniform positions; types from the field mix.

The label is taken from the *spectroscopic* redshift, as in the paper:
``z_spec = z + (1 + z) σ_spec N(0, 1) / c`` and member ⇔
``c |z_spec − z_c| / (1 + z_c) ≤ velocity_cut_kms``.

Morphology follows the type (:mod:`~skysieve.tasks.members._morphology`):
early types (``t < 0.8``: E/S0, bulge fraction from ``bulge_fraction_red``,
bulge ``n ≈ 4``) and disk galaxies (B/T from the Hubble type, Simien & de
Vaucouleurs 1986, clipped to ``bulge_fraction_blue``; near-exponential bulges),
with sizes from Shen et al. (2003)'s early- and late-type size–luminosity
relations at the rest-frame r absolute magnitude ``M_r = m_ref − DM(z) −
K(t, z)`` (K-correction through the real filter curves,
:class:`~skysieve.tasks.members.sed.KCorrectionGrid`), converted to arcsec
with the angular-diameter distance.
"""

import numpy as np
from astropy import constants as const
from astropy.table import Table

from skysieve.config import CosmologyParams
from skysieve.tasks.members._morphology import (SERSIC_GRID, bulge_sersic_index, bulge_to_total, hubble_type,
                                                 size_kpc)
from skysieve.tasks.members.params import ClusterSpec, SimulateMembersParams
from skysieve.tasks.members.sed import ColourGrid, KCorrectionGrid

__all__ = ["REST_FRAME_FILTER", "SERSIC_GRID", "draw_population", "power_law_magnitudes"]

C_KMS = const.c.to("km/s").value
#: The rest-frame band of the size–luminosity relations (Shen et al. 2003: SDSS r).
REST_FRAME_FILTER = "sdss_r0"


def power_law_magnitudes(n: int, mag_range: tuple[float, float], slope: float, *, rng: np.random.Generator
                         ) -> np.ndarray:
    """Magnitudes from ``p(m) ∝ 10^{slope · m}`` on ``mag_range`` by inverting the CDF.

    ``F(m) = (10^{αm} − 10^{αa}) / (10^{αb} − 10^{αa})`` ⇒
    ``m = log10(10^{αa} + u (10^{αb} − 10^{αa})) / α``.
    """
    a, b = mag_range
    u = rng.random(n)
    return np.log10(10 ** (slope * a) + u * (10 ** (slope * b) - 10 ** (slope * a))) / slope


def _field_redshifts(n: int, cfg: SimulateMembersParams, rng: np.random.Generator) -> np.ndarray:
    z_grid = np.linspace(*cfg.field.z_range, 2000)
    pdf = z_grid**2 * np.exp(-((z_grid / cfg.field.z0) ** 1.5))
    cdf = np.cumsum(pdf)
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, z_grid)


def _cluster_sources(cluster: ClusterSpec, index: int, cfg: SimulateMembersParams, rng: np.random.Generator
                     ) -> dict[str, np.ndarray]:
    mem, fld = cfg.members, cfg.field
    n_mem = max(1, int(round(cfg.sample_scale * cluster.n_members)))
    n_int = max(1, int(round(cfg.sample_scale * cluster.n_interlopers)))
    zc = cluster.z
    # members
    z_mem = zc + (1 + zc) * mem.sigma_v_kms * rng.standard_normal(n_mem) / C_KMS
    # cored isothermal Σ(R) ∝ (1 + R²/Rc²)^(-1/2): N(<R) ∝ √(Rc² + R²) − Rc, inverted
    rc, rmax = mem.core_radius_arcsec, mem.r_max_arcsec
    u = rng.random(n_mem)
    s = np.sqrt(rc**2 + rmax**2) - rc
    r_mem = np.sqrt((rc + u * s) ** 2 - rc**2)
    m_mem = power_law_magnitudes(n_mem, mem.mag_range, mem.mag_slope, rng=rng)
    blue = rng.random(n_mem) < mem.blue_fraction
    t_red = np.clip(mem.red_sequence_slope * (m_mem - 21.0) + mem.red_sequence_scatter * rng.standard_normal(n_mem),
                    0.0, 3.0)
    t_mem = np.where(blue, rng.uniform(*mem.blue_t_range, n_mem), np.abs(t_red))
    # interlopers
    near = rng.random(n_int) < fld.near_fraction
    dv = rng.uniform(*fld.near_dv_kms, n_int) * rng.choice([-1.0, 1.0], n_int)
    z_int = np.where(near, zc + (1 + zc) * dv / C_KMS, _field_redshifts(n_int, cfg, rng))
    r_int = rmax * np.sqrt(rng.random(n_int))
    m_int = power_law_magnitudes(n_int, fld.mag_range, fld.mag_slope, rng=rng)
    red_int = rng.random(n_int) < fld.red_fraction
    t_int = np.where(red_int, np.abs(mem.red_sequence_scatter * rng.standard_normal(n_int)), rng.uniform(0, 3, n_int))
    kind = np.concatenate([np.where(blue, "blue_member", "red_member"),
                           np.where(near, "near_interloper", "interloper")])
    z_true = np.concatenate([z_mem, z_int])
    n = n_mem + n_int
    # r_min keeps sources off the BCG itself
    r = np.maximum(np.concatenate([r_mem, r_int]), 3.0)
    phi = rng.uniform(0, 2 * np.pi, n)
    return {"cluster": np.full(n, cluster.name), "group": np.full(n, index, dtype=np.int32),
            "z_cluster": np.full(n, zc), "z_true": z_true, "kind": kind,
            "t_type": np.concatenate([t_mem, t_int]), "mag_ref": np.concatenate([m_mem, m_int]),
            "r_cl_arcsec": r, "phi_rad": phi,
            "ra": cluster.ra_deg + r * np.cos(phi) / 3600.0 / np.cos(np.radians(cluster.dec_deg)),
            "dec": cluster.dec_deg + r * np.sin(phi) / 3600.0}


def draw_population(cfg: SimulateMembersParams, cosmology: CosmologyParams, grid: ColourGrid, *,
                    rng: np.random.Generator) -> Table:
    """Every spectroscopic source of every cluster, with labels and the truth needed to render it.

    Returns
    -------
    astropy.table.Table
        One row per source: ``id``, ``ra``, ``dec`` (deg), ``label`` (1 = member),
        ``group`` (cluster index), ``cluster``, ``kind``, ``z_cluster``,
        ``z_true``, ``z_spec``, ``dv_kms`` (from z_spec), ``t_type``,
        ``r_cl_arcsec``, ``phi_rad``, ``abs_mag_r`` (rest-frame r), ``re_arcsec``, ``sersic_n``,
        ``bulge_frac``, ``q_bulge``, ``q_disk``, ``pa_rad``, ``mag_ref``
        (the reference band's magnitude), ``coverage`` (uniform draw deciding
        band coverage) and per band ``has_<band>``.
    """
    from skysieve.sim.cosmo import astropy_cosmology

    cols: dict[str, list] = {}
    for i, cluster in enumerate(cfg.clusters):
        for k, v in _cluster_sources(cluster, i, cfg, rng).items():
            cols.setdefault(k, []).append(v)
    t = Table({k: np.concatenate(v) for k, v in cols.items()})
    n = len(t)
    z_true = np.asarray(t["z_true"])
    z_spec = z_true + (1 + z_true) * cfg.spec_error_kms * rng.standard_normal(n) / C_KMS
    zc = np.asarray(t["z_cluster"])
    dv = C_KMS * (z_spec - zc) / (1 + zc)
    t["z_spec"] = z_spec
    t["dv_kms"] = dv
    t["label"] = (np.abs(dv) <= cfg.velocity_cut_kms).astype(np.int16)
    cosmo = astropy_cosmology(cosmology)
    zz = np.clip(z_true, 0.01, None)
    dm = np.asarray(cosmo.distmod(zz).value)
    kpc_per_arcsec = np.asarray(cosmo.kpc_proper_per_arcmin(zz).value) / 60.0
    tt = np.asarray(t["t_type"])
    early = tt < 0.8
    ref_filter = next(b.sedpy_filter for b in cfg.bands if b.name == cfg.reference_band)
    k_corr = KCorrectionGrid.build(ref_filter, REST_FRAME_FILTER)(tt, zz)
    t["abs_mag_r"] = np.asarray(t["mag_ref"]) - dm - k_corr
    re_kpc = np.clip(size_kpc(np.asarray(t["abs_mag_r"]), early, rng=rng), 0.3, 15.0)
    t["re_arcsec"] = np.clip(re_kpc / kpc_per_arcsec, 0.06, 2.0)
    t["sersic_n"] = bulge_sersic_index(early, rng=rng)
    lo_r, hi_r = cfg.members.bulge_fraction_red
    lo_d, hi_d = cfg.members.bulge_fraction_blue
    bt_disk = np.clip(bulge_to_total(hubble_type(tt)) * 10 ** (0.2 * rng.standard_normal(n)), lo_d, hi_d)
    t["bulge_frac"] = np.where(early, lo_r + (hi_r - lo_r) * rng.random(n), bt_disk)
    t["q_bulge"] = rng.uniform(0.6, 1.0, n)
    t["q_disk"] = rng.uniform(0.25, 1.0, n)
    t["pa_rad"] = rng.uniform(0, np.pi, n)
    coverage = rng.random(n)
    t["coverage"] = coverage
    for band in cfg.bands:
        t[f"has_{band.name}"] = coverage >= band.missing_fraction
    order = rng.permutation(n)  # interleave clusters and classes in tensor order
    t = t[order]
    t.add_column(np.arange(n, dtype=np.int64), name="id", index=0)
    return t
