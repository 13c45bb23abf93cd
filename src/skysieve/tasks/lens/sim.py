"""Galaxy-scale strong lenses in cluster fields: three-band HST-like cutouts (Angora et al. 2023).

Each cutout is centred on a simulated cluster member.  Positives carry a
background Sérsic source, ray-traced with lenstronomy through the member's SIE
plus an external convergence and shear that stand in for the cluster, and
placed inside the tangential caustic plus a buffer of half its effective
radius, so that at least one image falls in the cutout.  Negatives are members
without a source (some are the lenses themselves, "twins", in the same
group) and hard negatives: members with blue neighbours, spirals, and members
beside an arc-like edge-on disc.  ``docs/lens.md`` gives the recipe.

The work is split into independent *tasks* (one galaxy system each, giving
one cutout, or a lens and its twin).  Every task draws from its own
``numpy.random.SeedSequence`` spawned from one seed, so the cutouts are the
same whatever the number of worker processes.

Public entry points::

    tasks = plan_lens_tasks(cfg, seed=cfg.seed)
    cutouts = run_lens_task(tasks[0], cfg, cosmology)              # one system
    images, truth = simulate_lens_cutouts(cfg, cosmology, seed=cfg.seed)   # in memory
    truth = write_lens_simulation(cfg, cosmology, "data/lens/sim", seed=cfg.seed, workers=2)
"""

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
from astropy.table import Table

from skysieve._io import atomic_path
from skysieve.config import CosmologyParams
from skysieve.data.dataset import IMAGES_KEY
from skysieve.errors import ConfigError
from skysieve.tasks.lens._population import (
    Distances,
    distances,
    member_magnitude_shift,
    sample_member_magnitudes,
    sample_source_magnitudes,
    sample_source_redshift,
    sed_magnitudes,
    source_re_kpc,
    theta_e_sigma_l,
)
from skysieve.tasks.lens._render import (
    Galaxy,
    LensMass,
    add_noise,
    band_fluxes,
    caustic,
    caustic_region_sample,
    convolve_crop,
    galaxy_image,
    lens_equation_solver,
    lens_model,
    polygon_area,
    psf_kernel,
    supersampled_grid,
    tangential_critical_curve,
)
from skysieve.tasks.lens.cutouts import STAMPS_FILE, TRUTH_FILE
from skysieve.tasks.lens.params import ClusterParams, SimulateLensParams

__all__ = [
    "KINDS",
    "MAX_IMAGES",
    "Galaxy",
    "LensMass",
    "LensSystem",
    "LensTask",
    "RenderedSystem",
    "STAMPS_FILE",
    "TRUTH_FILE",
    "iter_lens_cutouts",
    "lens_truth_columns",
    "plan_lens_tasks",
    "render_lens_system",
    "run_lens_task",
    "sample_lens_system",
    "simulate_lens_cutouts",
    "solve_images",
    "tangential_caustic",
    "write_lens_simulation",
]

#: The kinds of system a task simulates; only ``lens`` is positive.
KINDS = ("lens", "member", "blue_neighbour", "spiral", "edge_on")
#: Image positions kept per cutout (an SIE plus shear has at most 4 images).
MAX_IMAGES = 4
_C_KMS = 299_792.458


@dataclass(frozen=True)
class LensSystem:
    """Everything drawn for one cutout's scene.

    Attributes
    ----------
    centrals : tuple of Galaxy
        The central galaxy (one Sérsic, or bulge + disc for a spiral), image plane.
    neighbours : tuple of Galaxy
        Other galaxies in the field, image plane, unlensed.
    mass : LensMass or None
        The lens (positives only).
    source : Galaxy or None
        The background source, in the source plane (positives only).
    truth : dict
        Scalar truth for the catalog (see :func:`lens_truth_columns`).
    """

    centrals: tuple[Galaxy, ...]
    neighbours: tuple[Galaxy, ...] = ()
    mass: LensMass | None = None
    source: Galaxy | None = None
    truth: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedSystem:
    """Noise-free images of a system, e⁻/s per pixel, shape (n_bands, n, n).

    Attributes
    ----------
    scene : ndarray
        Central galaxy and neighbours, PSF-convolved.
    source : ndarray or None
        The lensed source alone, PSF-convolved.
    magnification : float
        Total lensed over intrinsic flux of the source (extended-source
        magnification, before PSF and cropping); NaN without a source.
    """

    scene: np.ndarray
    source: np.ndarray | None
    magnification: float


@dataclass(frozen=True)
class LensTask:
    """One independent unit of work: a system of ``kind``, with or without a twin.

    Attributes
    ----------
    index : int
        Task number, also the ``group`` of its cutouts.
    kind : str
        One of :data:`KINDS`.
    twin : bool
        For ``lens``: also emit the same scene without the source (a negative).
    seed : numpy.random.SeedSequence
    """

    index: int
    kind: str
    twin: bool
    seed: np.random.SeedSequence

    @property
    def n_cutouts(self) -> int:
        return 2 if self.twin else 1


def lens_truth_columns(cfg: SimulateLensParams) -> list[tuple[str, str, str | None]]:
    """Truth columns of the lens catalog: (name, numpy dtype, unit), in order.

    Per-band magnitudes are named ``lens_mag_<band>``, ``src_mag_<band>``
    (intrinsic, unlensed) and ``arc_mag_<band>`` (the lensed source's flux
    inside the cutout, after the PSF); magnitude 99 means no flux.
    ``image_x_arcsec`` / ``image_y_arcsec`` hold up to :data:`MAX_IMAGES`
    image positions (NaN-padded).
    """
    bands = [b.name.lower() for b in cfg.bands]
    cols = [("kind", "U16", None), ("cluster", "U16", None), ("z_lens", "f8", None),
            ("cluster_offset_arcsec", "f8", "arcsec")]
    cols += [(f"lens_mag_{b}", "f8", "mag") for b in bands]
    cols += [("lens_colour", "f8", "mag"), ("lens_re_arcsec", "f8", "arcsec"), ("lens_n_sersic", "f8", None),
             ("lens_q", "f8", None), ("theta_e_arcsec", "f8", "arcsec"), ("theta_e_eff_arcsec", "f8", "arcsec"),
             ("mass_q", "f8", None), ("kappa_ext", "f8", None), ("gamma_ext", "f8", None),
             ("caustic_area_arcsec2", "f8", "arcsec2")]
    cols += [(f"src_mag_{b}", "f8", "mag") for b in bands]
    cols += [("src_z", "f8", None), ("src_re_arcsec", "f8", "arcsec"), ("src_re_kpc", "f8", "kpc"),
             ("src_n_sersic", "f8", None), ("src_q", "f8", None), ("src_pa_rad", "f8", "rad"),
             ("src_x_arcsec", "f8", "arcsec"), ("src_y_arcsec", "f8", "arcsec"), ("magnification", "f8", None),
             ("n_images", "i2", None), ("n_images_in_cutout", "i2", None)]
    cols += [(f"arc_mag_{b}", "f8", "mag") for b in bands]
    cols += [("n_neighbours", "i2", None)]
    return cols


# ----------------------------------------------------------------------------------------------------------------
# Planning


def _largest_remainder(total: int, fractions: list[float]) -> list[int]:
    raw = [total * f for f in fractions]
    counts = [int(math.floor(r)) for r in raw]
    for k in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[k] += 1
    return counts


def plan_lens_tasks(cfg: SimulateLensParams, *, seed: int | np.random.SeedSequence) -> list[LensTask]:
    """Decide what every task simulates, in output order.

    ``n_pos = round(n r / (1 + r))`` positives for ``r`` =
    ``positive_to_negative``; the negatives split by the fractions in
    ``cfg.negatives``; ``twin_fraction`` of the plain-member negatives are
    twins of randomly chosen positives.  Tasks are shuffled, then each gets its
    own child seed.

    Returns
    -------
    list of LensTask
        Their ``n_cutouts`` add up to ``cfg.n_cutouts``.
    """
    n = cfg.n_cutouts
    ratio = cfg.positive_to_negative
    n_pos = min(max(int(round(n * ratio / (1.0 + ratio))), 1), n)
    neg = cfg.negatives
    n_member, n_blue, n_spiral, n_edge = _largest_remainder(n - n_pos, [neg.member, neg.blue_neighbour, neg.spiral,
                                                                        neg.edge_on])
    n_twin = min(int(round(neg.twin_fraction * n_member)), n_pos)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    plan_seed, task_root = root.spawn(2)
    rng = np.random.default_rng(plan_seed)
    twins = np.zeros(n_pos, dtype=bool)
    twins[rng.choice(n_pos, size=n_twin, replace=False)] = True
    kinds = (["lens"] * n_pos + ["member"] * (n_member - n_twin) + ["blue_neighbour"] * n_blue
             + ["spiral"] * n_spiral + ["edge_on"] * n_edge)
    twin_flags = list(twins) + [False] * (len(kinds) - n_pos)
    order = rng.permutation(len(kinds))
    seeds = task_root.spawn(len(kinds))
    return [LensTask(index=i, kind=kinds[k], twin=bool(twin_flags[k]), seed=seeds[i]) for i, k in enumerate(order)]


# ----------------------------------------------------------------------------------------------------------------
# Sampling


def tangential_caustic(mass: LensMass, *, n_angles: int = 360) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tangential critical curve and caustic of ``mass`` (see ``tangential_critical_curve``).

    Returns
    -------
    crit_x, crit_y, caus_x, caus_y : ndarray of shape (n_angles,), arcsec
    """
    crit_x, crit_y = tangential_critical_curve(mass, n_angles=n_angles)
    caus_x, caus_y = caustic(mass, crit_x, crit_y)
    return crit_x, crit_y, np.asarray(caus_x), np.asarray(caus_y)


def solve_images(mass: LensMass, x_src: float, y_src: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image positions and magnifications of a point source (lenstronomy's LensEquationSolver).

    Returns
    -------
    x, y : ndarray of shape (n_images,), arcsec
    mu : ndarray of shape (n_images,)
        Signed point-source magnifications.
    """
    kwargs = mass.lenstronomy_kwargs()
    solver = lens_equation_solver()
    x, y = (np.atleast_1d(v) for v in solver.image_position_from_source(x_src, y_src, kwargs, solver="analytical"))
    bx, by = lens_model().ray_shooting(x, y, kwargs) if x.size else (x, y)
    if x.size == 0 or np.max(np.hypot(bx - x_src, by - y_src)) > 1e-6:
        # The analytical solver returns nothing for a source exactly on a symmetry axis: solve numerically,
        # dropping the spurious central "image" at the singular core.
        window = 2.4 * (np.hypot(x_src, y_src) + mass.theta_e_arcsec / np.sqrt(mass.q)) / max(
            1.0 - mass.kappa_ext - mass.gamma_ext, 0.05)
        x, y = (np.atleast_1d(v) for v in solver.image_position_from_source(
            x_src, y_src, kwargs, solver="lenstronomy", search_window=window,
            min_distance=0.01 * mass.theta_e_arcsec, precision_limit=1e-12, num_iter_max=200,
            magnification_limit=1e-2))
    mu = np.atleast_1d(lens_model().magnification(x, y, kwargs)) if x.size else np.empty(0)
    return x, y, mu


def _cluster_placement(rng: np.random.Generator, cfg: SimulateLensParams, cluster: ClusterParams,
                       dist: Distances, z_lens: float, z_src: float | None) -> dict:
    """Where the member sits in its cluster, and the cluster's κ and γ there.

    The cluster is a singular isothermal sphere of Einstein radius θ_cl
    (``cluster.theta_e_arcsec`` at z_s = 2, scaled by D_ls/D_s); a member at
    distance R feels :math:`\\kappa = \\gamma = \\theta_{cl}/2R` with the shear
    tangential to the cluster centre.  R is uniform in area between
    ``cluster_r_min_theta_e`` θ_cl(z_s=2) and ``cluster_r_max_arcsec``.
    """
    r_min = cfg.cluster_r_min_theta_e * cluster.theta_e_arcsec
    r_max = cfg.cluster_r_max_arcsec
    if r_max <= r_min:
        raise ConfigError(f"simulate_lens.cluster_r_max_arcsec = {r_max} must exceed cluster_r_min_theta_e × "
                          f"θ_E of cluster {cluster.name} ({r_min:g}″); raise it or lower cluster_r_min_theta_e")
    radius = float(np.sqrt(rng.uniform(r_min**2, r_max**2)))
    phi = rng.uniform(0.0, 2.0 * np.pi)
    dx, dy = radius * np.cos(phi), radius * np.sin(phi)
    kappa = gamma1 = gamma2 = 0.0
    if z_src is not None:
        def ratio(zs):
            return dist.angular_between_mpc(z_lens, zs) / dist.angular_mpc(zs)
        theta_cl = cluster.theta_e_arcsec * ratio(z_src) / ratio(2.0)
        kappa = theta_cl / (2.0 * radius)
        gamma1, gamma2 = -kappa * np.cos(2.0 * phi), -kappa * np.sin(2.0 * phi)
    dec = cluster.dec_deg + dy / 3600.0
    ra = (cluster.ra_deg - dx / (3600.0 * np.cos(np.deg2rad(cluster.dec_deg)))) % 360.0
    return {"ra": ra, "dec": dec, "offset": radius, "kappa": kappa, "gamma1": gamma1, "gamma2": gamma2}


def _member_light(rng: np.random.Generator, cfg: SimulateLensParams, mag_ref: float, z_lens: float,
                  dist: Distances) -> Galaxy:
    """An early-type member: red-sequence colours and the size–luminosity relation."""
    mem = cfg.members
    mags = sed_magnitudes(rng, mag_ref, z_lens, cfg.bands, cfg.band_index(cfg.reference_band), mem.sed)
    m_ref = mem.m_ref_mag_ab + member_magnitude_shift(z_lens, dist)
    lum = 10.0 ** (-0.4 * (mag_ref - m_ref))
    re_kpc = mem.re_kpc_at_mref * lum**mem.re_luminosity_slope * 10.0 ** rng.normal(0.0, mem.re_scatter_dex)
    return Galaxy(mags=tuple(mags), r_e_arcsec=float(re_kpc / dist.kpc_per_arcsec(z_lens)),
                  n_sersic=float(rng.uniform(*mem.n_sersic_range)), q=float(rng.uniform(*mem.q_range)),
                  pa_rad=float(rng.uniform(0.0, np.pi)))


def _draw_source_mag_z(rng: np.random.Generator, cfg: SimulateLensParams, z_lens: float) -> tuple[float, float]:
    src = cfg.sources
    mag = float(sample_source_magnitudes(rng, src))
    z_min = z_lens + src.dz_min
    if z_min >= src.z_max:
        raise ConfigError(f"simulate_lens: z_lens + sources.dz_min = {z_min:.3g} >= sources.z_max = {src.z_max}; "
                          "raise sources.z_max")
    return mag, sample_source_redshift(rng, mag, src, z_min=z_min)


def _draw_lens_magnitude(rng: np.random.Generator, cfg: SimulateLensParams, z_lens: float, z_src: float,
                         dist: Distances, *, batch: int = 256, max_batches: int = 40) -> tuple[float, float] | None:
    """A member magnitude drawn from the luminosity function and kept with probability ∝ θ_E in range."""
    lo, hi = cfg.members.theta_e_range_arcsec
    shift = member_magnitude_shift(z_lens, dist)
    for _ in range(max_batches):
        mags = sample_member_magnitudes(rng, cfg.members, shift=shift, size=batch)
        theta = theta_e_sigma_l(mags, z_lens=z_lens, z_src=z_src, members=cfg.members, dist=dist)
        keep = np.flatnonzero((theta > lo) & (theta < hi) & (rng.uniform(0.0, hi, batch) < theta))
        if keep.size:
            return float(mags[keep[0]]), float(theta[keep[0]])
    return None


def _central_magnitude(rng: np.random.Generator, cfg: SimulateLensParams, z_lens: float, dist: Distances) -> float:
    """A negative's central-galaxy magnitude: lens-like (∝ θ_E for a mock source) or from the LF."""
    if cfg.negatives.member_selection == "lens_like":
        for _ in range(cfg.max_attempts):
            _, z_src = _draw_source_mag_z(rng, cfg, z_lens)
            drawn = _draw_lens_magnitude(rng, cfg, z_lens, z_src, dist)
            if drawn is not None:
                return drawn[0]
    return float(sample_member_magnitudes(rng, cfg.members, shift=member_magnitude_shift(z_lens, dist)))


def _neighbours(rng: np.random.Generator, cfg: SimulateLensParams, z_lens: float, dist: Distances) -> list[Galaxy]:
    """Poisson-many neighbours: red members (LF) or small blue field galaxies, away from the centre."""
    nb = cfg.neighbours
    half = cfg.size_px * cfg.pixel_arcsec / 2.0 + nb.margin_arcsec
    ref = cfg.band_index(cfg.reference_band)
    out = []
    for _ in range(rng.poisson(nb.mean_count)):
        while True:
            x, y = rng.uniform(-half, half, 2)
            if np.hypot(x, y) >= nb.min_separation_arcsec:
                break
        if rng.uniform() < nb.blue_fraction:
            z = rng.uniform(*nb.blue_z_range)
            mags = sed_magnitudes(rng, rng.uniform(*nb.blue_mag_range), z, cfg.bands, ref, cfg.sources.sed)
            out.append(Galaxy(mags=tuple(mags), r_e_arcsec=float(rng.uniform(*nb.blue_re_arcsec_range)),
                              n_sersic=float(rng.uniform(0.5, 2.0)), q=float(rng.uniform(0.3, 1.0)),
                              pa_rad=float(rng.uniform(0, np.pi)), x_arcsec=float(x), y_arcsec=float(y)))
        else:
            mag = float(sample_member_magnitudes(rng, cfg.members, shift=member_magnitude_shift(z_lens, dist)))
            g = _member_light(rng, cfg, mag, z_lens, dist)
            out.append(Galaxy(mags=g.mags, r_e_arcsec=g.r_e_arcsec, n_sersic=g.n_sersic, q=g.q, pa_rad=g.pa_rad,
                              x_arcsec=float(x), y_arcsec=float(y)))
    return out


def _combined_mags(galaxies: list[Galaxy], cfg: SimulateLensParams) -> np.ndarray:
    flux = sum(band_fluxes(g.mags, cfg.bands) for g in galaxies)
    zp = np.array([b.zero_point_ab for b in cfg.bands])
    with np.errstate(divide="ignore"):
        return np.where(flux > 0, -2.5 * np.log10(np.maximum(flux, 1e-300)) + zp, 99.0)


def _base_truth(cfg: SimulateLensParams, kind: str, cluster: ClusterParams, z_lens: float, place: dict,
                centrals: list[Galaxy], neighbours: list[Galaxy]) -> dict:
    mags = _combined_mags(centrals, cfg)
    c0, c1 = (cfg.band_index(b) for b in cfg.colour_bands)
    main = max(centrals, key=lambda g: band_fluxes(g.mags, cfg.bands)[cfg.band_index(cfg.reference_band)])
    truth = {"kind": kind, "cluster": cluster.name, "z_lens": z_lens, "cluster_offset_arcsec": place["offset"],
             "ra": place["ra"], "dec": place["dec"], "lens_colour": float(mags[c0] - mags[c1]),
             "lens_re_arcsec": main.r_e_arcsec, "lens_n_sersic": main.n_sersic, "lens_q": main.q,
             "n_neighbours": len(neighbours), "n_images": 0, "n_images_in_cutout": 0}
    for band, m in zip(cfg.bands, mags):
        truth[f"lens_mag_{band.name.lower()}"] = float(m)
    return truth


def _draw_cluster(rng: np.random.Generator, cfg: SimulateLensParams) -> tuple[ClusterParams, float]:
    cluster = cfg.clusters[int(rng.integers(len(cfg.clusters)))]
    dz = rng.normal(0.0, cfg.members.velocity_dispersion_kms / _C_KMS * (1.0 + cluster.z))
    return cluster, float(max(cluster.z + dz, 1e-3))


def _sample_lens(rng: np.random.Generator, cfg: SimulateLensParams, dist: Distances) -> LensSystem:
    """A positive: source, lens member drawn ∝ θ_E, cluster κ/γ, source inside the caustic + buffer."""
    src, mem = cfg.sources, cfg.members
    half = cfg.size_px * cfg.pixel_arcsec / 2.0
    ref = cfg.band_index(cfg.reference_band)
    for _ in range(cfg.max_attempts):
        cluster, z_lens = _draw_cluster(rng, cfg)
        src_mag, z_src = _draw_source_mag_z(rng, cfg, z_lens)
        drawn = _draw_lens_magnitude(rng, cfg, z_lens, z_src, dist)
        if drawn is None:
            continue
        lens_mag, theta_e = drawn
        light = _member_light(rng, cfg, lens_mag, z_lens, dist)
        q_mass = float(np.clip(light.q + rng.normal(0.0, mem.mass_q_scatter), mem.mass_q_min, 1.0))
        pa_mass = light.pa_rad + np.deg2rad(rng.normal(0.0, mem.mass_pa_scatter_deg))
        place = _cluster_placement(rng, cfg, cluster, dist, z_lens, z_src)
        mass = LensMass(theta_e_arcsec=theta_e, q=q_mass, pa_rad=float(pa_mass), kappa_ext=place["kappa"],
                        gamma1=place["gamma1"], gamma2=place["gamma2"])
        re_kpc = source_re_kpc(rng, z_src, src)
        re_arcsec = re_kpc / float(dist.kpc_per_arcsec(z_src))
        n_src, q_src, pa_src = rng.uniform(*src.n_sersic_range), rng.uniform(*src.q_range), rng.uniform(0, np.pi)
        src_mags = sed_magnitudes(rng, src_mag, z_src, cfg.bands, ref, src.sed)
        crit_x, crit_y, caus_x, caus_y = tangential_caustic(mass)
        for _ in range(cfg.source_position_tries):
            xs, ys = caustic_region_sample(rng, caus_x, caus_y, src.caustic_buffer_re * re_arcsec)
            img_x, img_y, _ = solve_images(mass, xs, ys)
            inside = (np.abs(img_x) < half) & (np.abs(img_y) < half)
            if inside.any():
                break
        else:
            continue
        source = Galaxy(mags=tuple(src_mags), r_e_arcsec=re_arcsec, n_sersic=float(n_src), q=float(q_src),
                        pa_rad=float(pa_src), x_arcsec=xs, y_arcsec=ys)
        neighbours = _neighbours(rng, cfg, z_lens, dist)
        truth = _base_truth(cfg, "lens", cluster, z_lens, place, [light], neighbours)
        area = polygon_area(crit_x, crit_y)
        truth.update({"theta_e_arcsec": theta_e, "theta_e_eff_arcsec": float(np.sqrt(area / np.pi)),
                      "mass_q": q_mass, "kappa_ext": mass.kappa_ext, "gamma_ext": mass.gamma_ext,
                      "caustic_area_arcsec2": polygon_area(caus_x, caus_y), "src_z": z_src,
                      "src_re_arcsec": re_arcsec, "src_re_kpc": re_kpc, "src_n_sersic": float(n_src),
                      "src_q": float(q_src), "src_pa_rad": float(pa_src), "src_x_arcsec": xs, "src_y_arcsec": ys,
                      "n_images": int(img_x.size), "n_images_in_cutout": int(inside.sum()),
                      "image_x_arcsec": img_x, "image_y_arcsec": img_y})
        for band, m in zip(cfg.bands, src_mags):
            truth[f"src_mag_{band.name.lower()}"] = float(m)
        return LensSystem(centrals=(light,), neighbours=tuple(neighbours), mass=mass, source=source, truth=truth)
    raise ConfigError(
        f"simulate_lens: no lens with an image inside the {cfg.size_px}-px cutout after max_attempts = "
        f"{cfg.max_attempts} systems; widen the cutout (size_px, pixel_arcsec), lower "
        f"members.theta_e_range_arcsec or raise max_attempts")


def _sample_negative(rng: np.random.Generator, cfg: SimulateLensParams, dist: Distances, kind: str) -> LensSystem:
    """A member without a source, or a hard negative of ``kind``."""
    ref = cfg.band_index(cfg.reference_band)
    cluster, z_lens = _draw_cluster(rng, cfg)
    place = _cluster_placement(rng, cfg, cluster, dist, z_lens, None)
    mag = _central_magnitude(rng, cfg, z_lens, dist)
    member = _member_light(rng, cfg, mag, z_lens, dist)
    centrals, extras = [member], []
    if kind == "blue_neighbour":
        p = cfg.negatives.blue_neighbours
        for _ in range(int(rng.integers(p.count_range[0], p.count_range[1] + 1))):
            sep, ang = rng.uniform(*p.separation_arcsec_range), rng.uniform(0, 2 * np.pi)
            mags = sed_magnitudes(rng, rng.uniform(*p.mag_range), rng.uniform(*p.z_range), cfg.bands, ref,
                                  cfg.sources.sed)
            extras.append(Galaxy(mags=tuple(mags), r_e_arcsec=float(rng.uniform(*p.re_arcsec_range)),
                                 n_sersic=float(rng.uniform(0.5, 1.5)), q=float(rng.uniform(0.3, 1.0)),
                                 pa_rad=float(rng.uniform(0, np.pi)), x_arcsec=float(sep * np.cos(ang)),
                                 y_arcsec=float(sep * np.sin(ang))))
    elif kind == "spiral":
        p = cfg.negatives.spirals
        f_bulge = rng.uniform(*p.bulge_fraction_range)
        bulge_mags = sed_magnitudes(rng, mag - 2.5 * np.log10(f_bulge), z_lens, cfg.bands, ref, cfg.members.sed)
        disc_mags = sed_magnitudes(rng, mag - 2.5 * np.log10(1.0 - f_bulge), z_lens, cfg.bands, ref,
                                   cfg.sources.sed)
        pa = float(rng.uniform(0, np.pi))
        bulge = Galaxy(mags=tuple(bulge_mags), r_e_arcsec=0.4 * member.r_e_arcsec, n_sersic=4.0,
                       q=float(rng.uniform(0.7, 1.0)), pa_rad=pa)
        disc = Galaxy(mags=tuple(disc_mags), r_e_arcsec=member.r_e_arcsec * float(rng.uniform(*p.disc_re_scale_range)),
                      n_sersic=1.0, q=float(rng.uniform(*p.disc_q_range)), pa_rad=pa, arms=p.arms,
                      arm_pitch_rad=float(np.deg2rad(rng.uniform(*p.pitch_deg_range))) * rng.choice([-1.0, 1.0]),
                      arm_amplitude=float(rng.uniform(*p.arm_amplitude_range)))
        centrals = [disc, bulge]
    elif kind == "edge_on":
        p = cfg.negatives.edge_on_discs
        sep, ang = rng.uniform(*p.separation_arcsec_range), rng.uniform(0, 2 * np.pi)
        x, y = sep * np.cos(ang), sep * np.sin(ang)
        pa = ang + np.pi / 2 + np.deg2rad(rng.normal(0.0, 15.0))
        # In the disc frame the member (at the origin) lies at y' = x sin pa − y cos pa; bend the ends towards it.
        y_member = x * np.sin(pa) - y * np.cos(pa)
        bend = rng.uniform(*p.bend_per_arcsec_range) * np.sign(y_member or 1.0)
        mags = sed_magnitudes(rng, rng.uniform(*p.mag_range), rng.uniform(*p.z_range), cfg.bands, ref,
                              cfg.sources.sed)
        extras.append(Galaxy(mags=tuple(mags), r_e_arcsec=float(rng.uniform(*p.re_arcsec_range)), n_sersic=1.0,
                             q=float(rng.uniform(*p.q_range)), pa_rad=float(pa), x_arcsec=float(x),
                             y_arcsec=float(y), bend_per_arcsec=float(bend)))
    elif kind != "member":
        raise ValueError(f"unknown negative kind {kind!r}; expected one of {KINDS[1:]}")
    neighbours = extras + _neighbours(rng, cfg, z_lens, dist)
    truth = _base_truth(cfg, kind, cluster, z_lens, place, centrals, neighbours)
    return LensSystem(centrals=tuple(centrals), neighbours=tuple(neighbours), truth=truth)


def sample_lens_system(cfg: SimulateLensParams, cosmology: CosmologyParams, *, kind: str = "lens",
                       seed: int | np.random.SeedSequence | np.random.Generator) -> LensSystem:
    """Draw one system of ``kind`` (one of :data:`KINDS`).

    For ``lens``: a cluster and member redshift; a source magnitude from the
    counts and z from p(z|m) with z_s ≥ z_l + dz_min; a member magnitude from
    the luminosity function kept with probability ∝ θ_E(m) inside
    ``theta_e_range_arcsec``; the cluster's κ and γ at the member; the source
    shape; a source position inside the tangential caustic plus
    ``caustic_buffer_re`` r_e, redrawn until an image lands inside the cutout
    (``source_position_tries``, then a new system, up to ``max_attempts``).

    Raises
    ------
    ConfigError
        If no acceptable lens is found within ``max_attempts``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    dist = distances(cosmology)
    return _sample_lens(rng, cfg, dist) if kind == "lens" else _sample_negative(rng, cfg, dist, kind)


# ----------------------------------------------------------------------------------------------------------------
# Rendering


def _flux_window_arcsec(mass: LensMass, source: Galaxy) -> float:
    """Half-size of a window holding every image of the source out to 8 r_e.

    For an isothermal lens in a sheet, |θ| ≤ (|β| + θ_E)/(1 − κ − γ).
    """
    reach = np.hypot(source.x_arcsec, source.y_arcsec) + 8.0 * source.r_e_arcsec
    return (reach + mass.theta_e_arcsec / np.sqrt(mass.q)) / max(1.0 - mass.kappa_ext - mass.gamma_ext, 0.05)


def render_lens_system(system: LensSystem, cfg: SimulateLensParams) -> RenderedSystem:
    """Noise-free, PSF-convolved images of a system in every band.

    Every light component is rendered once at unit flux on a grid padded by
    the PSF radius and supersampled ``cfg.supersampling`` times per side, then
    scaled by its flux in each band, :math:`F_b = 10^{-0.4 (m_b - ZP_b)}`
    e⁻/s, summed, convolved with the band's PSF and cropped.  The source is
    sampled at β = θ − α(θ) (lenstronomy ray shooting); its extended-source
    magnification is the ray-traced flux over a window holding all its images
    (at the same resolution) for unit intrinsic flux.
    """
    n, d, ss = cfg.size_px, cfg.pixel_arcsec, cfg.supersampling
    kernels = [psf_kernel(b, d) for b in cfg.bands]
    pad = max(k.shape[0] // 2 for k in kernels)
    npad = n + 2 * pad
    x, y = supersampled_grid(npad, d, ss)
    nb = len(cfg.bands)
    scene = np.zeros((nb, npad, npad))
    for g in (*system.centrals, *system.neighbours):
        unit = galaxy_image(g, x, y, pixel_arcsec=d, supersampling=ss)
        for k, f in enumerate(band_fluxes(g.mags, cfg.bands)):
            if f > 0:
                scene[k] += f * unit
    scene_out = np.stack([convolve_crop(scene[k], kernels[k], pad) for k in range(nb)])
    if system.source is None or system.mass is None:
        return RenderedSystem(scene=scene_out, source=None, magnification=float("nan"))
    kwargs = system.mass.lenstronomy_kwargs()
    bx, by = lens_model().ray_shooting(x.ravel(), y.ravel(), kwargs)
    unit = galaxy_image(system.source, bx.reshape(x.shape), by.reshape(y.shape), pixel_arcsec=d, supersampling=ss)
    window = _flux_window_arcsec(system.mass, system.source)
    if window <= npad * d / 2.0:
        magnification = float(unit.sum())
    else:  # images reach beyond the padded cutout: trace a larger window, sampled at r_e/4 (≥ the sub-pixel)
        step = float(np.clip(system.source.r_e_arcsec / 4.0, d / ss, d))
        nwin = int(np.ceil(2.0 * window / step))
        wx, wy = supersampled_grid(nwin, step, 1)
        wbx, wby = lens_model().ray_shooting(wx.ravel(), wy.ravel(), kwargs)
        magnification = float(galaxy_image(system.source, wbx.reshape(wx.shape), wby.reshape(wy.shape),
                                           pixel_arcsec=step, supersampling=1).sum())
    fluxes = band_fluxes(system.source.mags, cfg.bands)
    source_out = np.stack([convolve_crop(fluxes[k] * unit, kernels[k], pad) for k in range(nb)])
    return RenderedSystem(scene=scene_out, source=source_out, magnification=magnification)


def _noisy(rng: np.random.Generator, image: np.ndarray, cfg: SimulateLensParams) -> np.ndarray:
    if not cfg.noise:
        return image.copy()
    return np.stack([add_noise(rng, image[k], band, cfg.pixel_arcsec) for k, band in enumerate(cfg.bands)])


def _arc_mags(source: np.ndarray, cfg: SimulateLensParams) -> np.ndarray:
    flux = source.sum(axis=(1, 2))
    zp = np.array([b.zero_point_ab for b in cfg.bands])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, -2.5 * np.log10(np.maximum(flux, 1e-300)) + zp, 99.0)


def run_lens_task(task: LensTask, cfg: SimulateLensParams, cosmology: CosmologyParams) -> list[tuple[np.ndarray, dict]]:
    """Simulate one task: sample, render, add noise.

    Returns
    -------
    list of (image, truth)
        ``image`` of shape (size_px, size_px, n_bands), float32, e⁻/s; one
        entry, or two for a lens with a twin (the lens first).  ``truth`` has
        ``label``, ``group`` (= ``task.index``), ``ra``, ``dec`` and the
        columns of :func:`lens_truth_columns` (missing ones are filled later).
    """
    system_seed, noise_seed, twin_seed = task.seed.spawn(3)
    system = sample_lens_system(cfg, cosmology, kind=task.kind, seed=np.random.default_rng(system_seed))
    rendered = render_lens_system(system, cfg)
    truth = dict(system.truth, group=task.index, label=int(task.kind == "lens"))
    if rendered.source is None:
        image = _noisy(np.random.default_rng(noise_seed), rendered.scene, cfg)
        return [(np.moveaxis(image, 0, -1).astype(np.float32), truth)]
    truth["magnification"] = rendered.magnification
    for band, m in zip(cfg.bands, _arc_mags(rendered.source, cfg)):
        truth[f"arc_mag_{band.name.lower()}"] = float(m)
    image = _noisy(np.random.default_rng(noise_seed), rendered.scene + rendered.source, cfg)
    out = [(np.moveaxis(image, 0, -1).astype(np.float32), truth)]
    if task.twin:
        twin = _noisy(np.random.default_rng(twin_seed), rendered.scene, cfg)
        twin_truth = _scene_truth(system.truth, cfg) | {"kind": "twin", "group": task.index, "label": 0}
        out.append((np.moveaxis(twin, 0, -1).astype(np.float32), twin_truth))
    return out


def _scene_truth(truth: dict, cfg: SimulateLensParams) -> dict:
    """The part of a lens's truth that describes its scene (for the twin without the source)."""
    keys = {"cluster", "z_lens", "cluster_offset_arcsec", "ra", "dec", "lens_colour", "lens_re_arcsec",
            "lens_n_sersic", "lens_q", "n_neighbours"} | {f"lens_mag_{b.name.lower()}" for b in cfg.bands}
    return {k: v for k, v in truth.items() if k in keys} | {"n_images": 0, "n_images_in_cutout": 0}


# ----------------------------------------------------------------------------------------------------------------
# Running many tasks


def _init_worker() -> None:
    """Let a worker keep 64 MB of freed heap instead of returning it to the OS after every array.

    Rendering allocates and frees many ~1 MB temporaries; with glibc's default
    top pad each cycle costs page faults, about half the run time.  A no-op
    where ``mallopt`` is unavailable.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-2, 64 << 20)  # M_TOP_PAD
    except (OSError, AttributeError, TypeError):
        pass


def iter_lens_cutouts(cfg: SimulateLensParams, cosmology: CosmologyParams, *, seed: int | np.random.SeedSequence,
                      workers: int = 0) -> Iterator[tuple[np.ndarray, dict]]:
    """Yield (image, truth) for every cutout, in plan order.

    Parameters
    ----------
    workers : int
        Worker processes (spawned); 0 runs in the calling process.  The output
        does not depend on it: each task has its own seed.
    """
    tasks = plan_lens_tasks(cfg, seed=seed)
    fn = functools.partial(run_lens_task, cfg=cfg, cosmology=cosmology)
    if workers <= 0:
        for task in tasks:
            yield from fn(task)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, min(16, len(tasks) // (8 * workers)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker) as pool:
        for result in pool.map(fn, tasks, chunksize=chunk):
            yield from result


def _truth_table(rows: list[dict], cfg: SimulateLensParams) -> Table:
    """Assemble the catalog: id, ra, dec, label, group, truth columns (NaN / -1 / 99 where absent)."""
    n = len(rows)
    table = Table()
    table["id"] = np.arange(n, dtype=np.int64)
    table["ra"] = np.array([r["ra"] for r in rows], dtype=float) * u.deg
    table["dec"] = np.array([r["dec"] for r in rows], dtype=float) * u.deg
    table["label"] = np.array([r["label"] for r in rows], dtype=np.int8)
    table["group"] = np.array([r["group"] for r in rows], dtype=np.int64)
    for name, dtype, unit in lens_truth_columns(cfg):
        if dtype.startswith("U"):
            values = np.array([str(r.get(name, "")) for r in rows], dtype=dtype)
        elif dtype.startswith("i"):
            values = np.array([r.get(name, 0) for r in rows], dtype=dtype)
        else:
            values = np.array([r.get(name, np.nan) for r in rows], dtype=dtype)
        table[name] = values * u.Unit(unit) if unit else values
    for axis in ("x", "y"):
        pos = np.full((n, MAX_IMAGES), np.nan)
        for i, r in enumerate(rows):
            v = np.asarray(r.get(f"image_{axis}_arcsec", ()), dtype=float)[:MAX_IMAGES]
            pos[i, : v.size] = v
        table[f"image_{axis}_arcsec"] = pos * u.arcsec
    table.meta.update({"SIZE_PX": cfg.size_px, "PIX_ASEC": cfg.pixel_arcsec, "REFBAND": cfg.reference_band,
                       "COLOUR": f"{cfg.colour_bands[0]}-{cfg.colour_bands[1]}", "SEED": cfg.seed,
                       "CHANNELS": ",".join(b.name for b in cfg.bands)})
    return table


def simulate_lens_cutouts(cfg: SimulateLensParams, cosmology: CosmologyParams, *,
                          seed: int | np.random.SeedSequence, workers: int = 0) -> tuple[np.ndarray, Table]:
    """Simulate every cutout in memory (for small sets and tests).

    Returns
    -------
    images : ndarray of shape (n_cutouts, size_px, size_px, n_bands), float32, e⁻/s
    truth : astropy.table.Table
        One row per cutout (see :func:`write_lens_simulation`).
    """
    images, rows = [], []
    for image, truth in iter_lens_cutouts(cfg, cosmology, seed=seed, workers=workers):
        images.append(image)
        rows.append(truth)
    return np.stack(images), _truth_table(rows, cfg)


def write_lens_simulation(cfg: SimulateLensParams, cosmology: CosmologyParams, out_dir: str | Path, *,
                          seed: int | np.random.SeedSequence, workers: int = 0, block: int = 256,
                          progress: bool = False) -> Table:
    """Simulate every cutout and stream them to ``out_dir`` atomically.

    Writes ``stamps.h5`` — dataset ``images`` of shape (n, size_px, size_px,
    n_bands), float32, e⁻/s per pixel, chunked by 16 cutouts, with attributes
    ``channels``, ``unit``, ``pixel_arcmin``, ``pixel_arcsec`` and
    ``zero_points_ab`` — and ``truth.fits``, one row per cutout: ``id``,
    ``ra``, ``dec`` (deg), ``label``, ``group`` and the truth columns of
    :func:`lens_truth_columns`.  No ``split``: ``skysieve cutouts lens`` adds it.
    Memory stays at one block of cutouts.  ``workers`` as in :func:`iter_lens_cutouts`.

    Returns
    -------
    astropy.table.Table
        The truth catalog.
    """
    n, size, nb = cfg.n_cutouts, cfg.size_px, len(cfg.bands)
    rows: list[dict] = []
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        with h5py.File(tmp / STAMPS_FILE, "w") as h5:
            dset = h5.create_dataset(IMAGES_KEY, shape=(n, size, size, nb), dtype="float32",
                                     chunks=(min(16, n), size, size, nb))
            dset.attrs["channels"] = np.array([b.name for b in cfg.bands], dtype="S")
            dset.attrs["unit"] = "electron/s"
            dset.attrs["pixel_arcmin"] = cfg.pixel_arcsec / 60.0
            dset.attrs["pixel_arcsec"] = cfg.pixel_arcsec
            dset.attrs["zero_points_ab"] = np.array([b.zero_point_ab for b in cfg.bands])
            buffer: list[np.ndarray] = []
            stream = iter_lens_cutouts(cfg, cosmology, seed=seed, workers=workers)
            if progress:
                from rich.progress import track

                stream = track(stream, total=n, description="simulating lenses")
            for image, truth in stream:
                buffer.append(image)
                rows.append(truth)
                if len(buffer) == block:
                    dset[len(rows) - block: len(rows)] = np.stack(buffer)
                    buffer.clear()
            if buffer:
                dset[len(rows) - len(buffer): len(rows)] = np.stack(buffer)
        table = _truth_table(rows, cfg)
        table.write(tmp / TRUTH_FILE)
    return table
