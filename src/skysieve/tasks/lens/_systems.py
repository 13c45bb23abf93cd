"""Drawing one lens system (or a hard negative) for the lens simulation: members, sources, neighbours.

Physics of a positive: an SIE member plus external convergence and shear,
a background Sérsic source placed inside the tangential caustic plus a buffer
(:func:`tangential_caustic`), its images solved with lenstronomy
(:func:`solve_images`); negatives are members, twins, blue neighbours,
spirals and edge-on discs (:func:`sample_lens_system`).  Rendering is in
:mod:`skysieve.tasks.lens._scene`, the task plan in :mod:`skysieve.tasks.lens._tasks`.
"""

from dataclasses import dataclass, field

import numpy as np

from skysieve.config import CosmologyParams
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
    band_fluxes,
    caustic,
    caustic_region_sample,
    lens_equation_solver,
    lens_model,
    polygon_area,
    tangential_critical_curve,
)
from skysieve.tasks.lens.params import ClusterParams, SimulateLensParams

__all__ = ["KINDS", "MAX_IMAGES", "LensSystem", "sample_lens_system", "solve_images", "tangential_caustic"]

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
    features : tuple of Galaxy
        A hard negative's look-alike of lensed images (blue neighbours; the
        edge-on spiral's disc and bulge), image plane, unlensed; rendered
        into the scene and, alone, for ``feature_snr``.
    """

    centrals: tuple[Galaxy, ...]
    neighbours: tuple[Galaxy, ...] = ()
    mass: LensMass | None = None
    source: Galaxy | None = None
    truth: dict = field(default_factory=dict)
    features: tuple[Galaxy, ...] = ()



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
    weights = np.array([c.n_members for c in cfg.clusters], dtype=float)
    cluster = cfg.clusters[int(rng.choice(len(cfg.clusters), p=weights / weights.sum()))]
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
        re_kpc = source_re_kpc(rng, z_src, src, mag=src_mag, dist=dist)
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
        mag, z_disc = rng.uniform(*p.mag_range), rng.uniform(*p.z_range)
        f_bulge = rng.uniform(*p.bulge_fraction_range)
        disc_mags = sed_magnitudes(rng, mag - 2.5 * np.log10(1.0 - f_bulge), z_disc, cfg.bands, ref,
                                   cfg.sources.sed)
        re_disc = float(rng.uniform(*p.re_arcsec_range))
        extras.append(Galaxy(mags=tuple(disc_mags), r_e_arcsec=re_disc, n_sersic=1.0,
                             q=float(rng.uniform(*p.q_range)), pa_rad=float(pa), x_arcsec=float(x),
                             y_arcsec=float(y), bend_per_arcsec=float(bend)))
        if f_bulge > 0:
            bulge_mags = sed_magnitudes(rng, mag - 2.5 * np.log10(f_bulge), z_disc, cfg.bands, ref,
                                        cfg.members.sed)
            extras.append(Galaxy(mags=tuple(bulge_mags), r_e_arcsec=0.25 * re_disc, n_sersic=4.0,
                                 q=float(rng.uniform(0.6, 1.0)), pa_rad=float(pa), x_arcsec=float(x),
                                 y_arcsec=float(y)))
    elif kind != "member":
        raise ValueError(f"unknown negative kind {kind!r}; expected one of {KINDS[1:]}")
    neighbours = _neighbours(rng, cfg, z_lens, dist)
    truth = _base_truth(cfg, kind, cluster, z_lens, place, centrals, extras + neighbours)
    return LensSystem(centrals=tuple(centrals), neighbours=tuple(neighbours), truth=truth, features=tuple(extras))


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


