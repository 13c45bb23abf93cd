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

The modules, in the order data flows: :mod:`._population` and
:mod:`._systems` draw a system (members, sources, masses, hard negatives),
:mod:`._scene` renders it with the primitives of :mod:`._render`,
:mod:`._tasks` plans the tasks and turns one into noisy cutouts with their
truth, and this module runs them all and writes the dataset.

Public entry points::

    tasks = plan_lens_tasks(cfg, seed=cfg.seed)
    cutouts = run_lens_task(tasks[0], cfg, cosmology)              # one system
    images, truth = simulate_lens_cutouts(cfg, cosmology, seed=cfg.seed)   # in memory
    truth = write_lens_simulation(cfg, cosmology, "data/lens/sim", seed=cfg.seed, workers=2)
"""
import functools
from collections.abc import Iterator
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
from astropy.table import Table

from skysieve._io import atomic_path
from skysieve.config import CosmologyParams
from skysieve.data.dataset import IMAGES_KEY
from skysieve.tasks.lens._render import Galaxy, LensMass
from skysieve.tasks.lens._scene import RenderedSystem, render_lens_system
from skysieve.tasks.lens._systems import (
    KINDS,
    MAX_IMAGES,
    LensSystem,
    sample_lens_system,
    solve_images,
    tangential_caustic,
)
from skysieve.tasks.lens._tasks import LensTask, plan_lens_tasks, run_lens_task
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
