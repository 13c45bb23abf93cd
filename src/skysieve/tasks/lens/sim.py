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
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
from astropy.table import Table

from skysieve._io import atomic_path
from skysieve.config import CosmologyParams
from skysieve.data.dataset import IMAGES_KEY
from skysieve.tasks.lens._render import (
    Galaxy,
    LensMass,
    add_noise,
    arc_snr,
    band_fluxes,
    convolve_crop,
    galaxy_image,
    lens_model,
    psf_kernel,
    supersampled_grid,
)
from skysieve.tasks.lens._systems import (
    KINDS,
    MAX_IMAGES,
    LensSystem,
    sample_lens_system,
    solve_images,
    tangential_caustic,
)
from skysieve.tasks.lens.cutouts import STAMPS_FILE, TRUTH_FILE
from skysieve.tasks.lens.params import SimulateLensParams

__all__ = [
    "KINDS",
    "MAX_IMAGES",
    "STAMPS_FILE",
    "TRUTH_FILE",
    "Galaxy",
    "LensMass",
    "LensSystem",
    "LensTask",
    "RenderedSystem",
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
    feature : ndarray or None
        A hard negative's look-alike components alone (already in ``scene``).
    """

    scene: np.ndarray
    source: np.ndarray | None
    magnification: float
    feature: np.ndarray | None = None


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
    ``arc_snr`` is the lensed source's matched-filter SNR (``_render.arc_snr``),
    ``feature_snr`` the same for a hard negative's look-alike (blue
    neighbours, edge-on spiral), NaN otherwise.
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
    cols += [("arc_snr", "f8", None), ("feature_snr", "f8", None), ("n_neighbours", "i2", None)]
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
    scene, feature = np.zeros((nb, npad, npad)), np.zeros((nb, npad, npad))
    for image, galaxies in ((scene, (*system.centrals, *system.neighbours)), (feature, system.features)):
        for g in galaxies:
            unit = galaxy_image(g, x, y, pixel_arcsec=d, supersampling=ss)
            for k, f in enumerate(band_fluxes(g.mags, cfg.bands)):
                if f > 0:
                    image[k] += f * unit
    feature_out = np.stack([convolve_crop(feature[k], kernels[k], pad) for k in range(nb)]) if system.features else None
    scene_out = np.stack([convolve_crop(scene[k] + feature[k], kernels[k], pad) for k in range(nb)])
    if system.source is None or system.mass is None:
        return RenderedSystem(scene=scene_out, source=None, magnification=float("nan"), feature=feature_out)
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


def _depth(cfg: SimulateLensParams, cluster: str) -> float:
    return next((c.exposure_scale for c in cfg.clusters if c.name == cluster), 1.0)


def _noisy(rng: np.random.Generator, image: np.ndarray, cfg: SimulateLensParams, *, depth: float) -> np.ndarray:
    if not cfg.noise:
        return image.copy()
    return np.stack([add_noise(rng, image[k], band, cfg.pixel_arcsec, exposure_scale=depth)
                     for k, band in enumerate(cfg.bands)])


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
    depth = _depth(cfg, truth["cluster"])
    if rendered.source is None:
        scene = rendered.scene
        if rendered.feature is not None:
            floor = cfg.negatives.edge_on_discs.min_snr if task.kind == "edge_on" else 0.0
            scene, truth["feature_snr"] = _visible_feature(rendered, cfg, depth=depth, min_snr=floor)
        image = _noisy(np.random.default_rng(noise_seed), scene, cfg, depth=depth)
        return [(np.moveaxis(image, 0, -1).astype(np.float32), truth)]
    truth["magnification"] = rendered.magnification
    for band, m in zip(cfg.bands, _arc_mags(rendered.source, cfg)):
        truth[f"arc_mag_{band.name.lower()}"] = float(m)
    truth["arc_snr"] = arc_snr(rendered.source, rendered.scene, cfg.bands, pixel_arcsec=cfg.pixel_arcsec,
                               exposure_scale=depth)
    image = _noisy(np.random.default_rng(noise_seed), rendered.scene + rendered.source, cfg, depth=depth)
    out = [(np.moveaxis(image, 0, -1).astype(np.float32), truth)]
    if task.twin and truth["arc_snr"] >= cfg.negatives.twin_min_arc_snr:
        twin = _noisy(np.random.default_rng(twin_seed), rendered.scene, cfg, depth=depth)
        twin_truth = _scene_truth(system.truth, cfg) | {"kind": "twin", "group": task.index, "label": 0}
        out.append((np.moveaxis(twin, 0, -1).astype(np.float32), twin_truth))
    elif task.twin:  # an invisible arc: the twin would be the lens up to noise, so a plain member stands in
        member_seed, member_noise = twin_seed.spawn(2)
        member = sample_lens_system(cfg, cosmology, kind="member", seed=np.random.default_rng(member_seed))
        member_truth = dict(member.truth, group=task.index, label=0)
        image = _noisy(np.random.default_rng(member_noise), render_lens_system(member, cfg).scene, cfg,
                       depth=_depth(cfg, member_truth["cluster"]))
        out.append((np.moveaxis(image, 0, -1).astype(np.float32), member_truth))
    return out


def _visible_feature(rendered: RenderedSystem, cfg: SimulateLensParams, *, depth: float, min_snr: float
                     ) -> tuple[np.ndarray, float]:
    """The scene with its look-alike feature brightened to ``min_snr`` if fainter, and the feature's SNR.

    The SNR is :func:`arc_snr` of the feature against the rest of the scene;
    it grows a little slower than the feature's flux (the feature's own
    Poisson noise), so the flux is rescaled by ``min_snr / SNR`` until the
    SNR is within 0.5 % of ``min_snr`` (a few rounds).
    """
    rest = rendered.scene - rendered.feature
    kw = {"pixel_arcsec": cfg.pixel_arcsec, "exposure_scale": depth}
    feature = rendered.feature
    snr = arc_snr(feature, rest, cfg.bands, **kw)
    if not 0 < snr < min_snr:
        return rendered.scene, snr
    for _ in range(8):
        feature = feature * (min_snr / snr)
        snr = arc_snr(feature, rest, cfg.bands, **kw)
        if snr >= 0.995 * min_snr:
            break
    return rest + feature, snr


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
