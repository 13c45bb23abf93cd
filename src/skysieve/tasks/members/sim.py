"""``skysieve simulate members``: HST-like multi-band cutouts of cluster members and interlopers.

:func:`~skysieve.tasks.members._population.draw_population` draws the
spectroscopic sources of the paper's 15 clusters with their labels;
:func:`build_specs` turns each into a :class:`~skysieve.tasks.members._render.SourceSpec`
(component fluxes through the real HST filter curves, neighbours, the ICL
halo, band coverage) and :func:`write_members_simulation` renders them with
galsim on worker processes and streams ``stamps.h5`` + ``truth.fits``.
Every source's pixels depend only on ``(seed, id)``, never on the number of workers.
"""

from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table

from skysieve._io import atomic_path
from skysieve.config import CosmologyParams
from skysieve.data.dataset import IMAGES_KEY
from skysieve.tasks.members._morphology import SERSIC_GRID
from skysieve.tasks.members._population import draw_population, power_law_magnitudes
from skysieve.tasks.members._render import Component, SourceSpec, component_fluxes, render_source
from skysieve.tasks.members.params import SimulateMembersParams
from skysieve.tasks.members.sed import ColourGrid

__all__ = ["STAMPS_FILE", "TRUTH_FILE", "build_specs", "colour_grid", "iter_members_cutouts",
           "write_members_simulation"]

STAMPS_FILE = "stamps.h5"
TRUTH_FILE = "truth.fits"


def colour_grid(cfg: SimulateMembersParams) -> ColourGrid:
    """The (type, z) colour table of the simulated bands relative to the reference band."""
    return ColourGrid.build(tuple(b.name for b in cfg.bands), tuple(b.sedpy_filter for b in cfg.bands),
                            reference=cfg.reference_band)


def _neighbours(row, cfg: SimulateMembersParams, grid: ColourGrid, zp: np.ndarray, rng: np.random.Generator
                ) -> tuple[Component, ...]:
    out = []
    scale = cfg.pixel_scale_arcsec
    for _ in range(rng.poisson(cfg.neighbours_per_cutout)):
        r = rng.uniform(10, 0.5 * cfg.size_px) * scale
        a = rng.uniform(0, 2 * np.pi)
        m = float(power_law_magnitudes(1, (20.0, 25.0), 0.4, rng=rng)[0])
        if rng.random() < 0.5:   # another cluster galaxy
            z, t = float(row["z_cluster"]), abs(0.12 * rng.standard_normal())
        else:
            z, t = float(rng.uniform(0.1, 1.5)), float(rng.uniform(0, 3))
        col = grid.colours(np.array([t]), np.array([z]))[0]
        bf = 0.7 if t < 0.8 else 0.1
        fl = component_fluxes(m, bf, 0.0, col, col, col, zp)
        out.append(Component(dx_arcsec=r * np.cos(a), dy_arcsec=r * np.sin(a),
                             re_arcsec=float(np.clip(0.35 * 10 ** (-0.2 * (m - 21)), 0.06, 1.5)),
                             sersic_n=float(rng.choice(SERSIC_GRID[2:])), q_bulge=float(rng.uniform(0.6, 1)),
                             q_disk=float(rng.uniform(0.3, 1)), pa_rad=float(rng.uniform(0, np.pi)), n_knots=0,
                             fluxes=fl))
    return tuple(out)


def build_specs(truth: Table, cfg: SimulateMembersParams, grid: ColourGrid, *, seed: int
                ) -> tuple[list[SourceSpec], dict[str, np.ndarray]]:
    """Render specs for every truth row, and the true per-band magnitudes of the central sources.

    Returns
    -------
    specs : list of SourceSpec, in truth order
    mags : dict of ``mag_<band>`` → ndarray of shape (n,), total AB magnitude of the central galaxy
    """
    rng = np.random.default_rng([seed, 1])
    zp = np.array([b.zero_point_ab for b in cfg.bands])
    t, z = np.asarray(truth["t_type"], float), np.asarray(truth["z_true"], float)
    col_b = grid.colours(np.maximum(t - 1.0, 0.0), z)
    col_d = grid.colours(np.minimum(t + 0.5, 3.0), z)
    col_k = grid.colours(np.full_like(t, 3.0), z)
    icl_col = grid.colours(np.zeros(len(cfg.clusters)), np.array([c.z for c in cfg.clusters]))
    icl_flux = 10 ** (-0.4 * (cfg.bcg_mag + icl_col - zp[None, :]))
    specs, flux_total = [], np.empty((len(truth), len(cfg.bands)))
    lo_k, hi_k = cfg.knots_range
    for i, row in enumerate(truth):
        blue = row["t_type"] >= 0.8
        n_knots = int(rng.integers(lo_k, hi_k + 1)) if blue else 0
        kf = cfg.knot_flux_fraction if n_knots else 0.0
        fl = component_fluxes(float(row["mag_ref"]), float(row["bulge_frac"]), kf, col_b[i], col_d[i], col_k[i], zp)
        flux_total[i] = fl.sum(axis=0)
        central = Component(dx_arcsec=float(rng.uniform(-0.5, 0.5) * cfg.pixel_scale_arcsec),
                            dy_arcsec=float(rng.uniform(-0.5, 0.5) * cfg.pixel_scale_arcsec),
                            re_arcsec=float(row["re_arcsec"]), sersic_n=float(row["sersic_n"]),
                            q_bulge=float(row["q_bulge"]), q_disk=float(row["q_disk"]), pa_rad=float(row["pa_rad"]),
                            n_knots=n_knots, fluxes=fl)
        missing = np.array([not row[f"has_{b.name}"] for b in cfg.bands])
        specs.append(SourceSpec(id=int(row["id"]), central=central, neighbours=_neighbours(row, cfg, grid, zp, rng),
                                icl_flux=icl_flux[int(row["group"])], r_cl_arcsec=float(row["r_cl_arcsec"]),
                                phi_rad=float(row["phi_rad"]), missing=missing))
    mags = {f"mag_{b.name}": zp[j] - 2.5 * np.log10(flux_total[:, j]) for j, b in enumerate(cfg.bands)}
    return specs, mags


def _render(args: tuple[SourceSpec, SimulateMembersParams]) -> np.ndarray:
    spec, cfg = args
    return render_source(spec, cfg, seed=spec.id)


def iter_members_cutouts(specs: list[SourceSpec], cfg: SimulateMembersParams, *, workers: int = 1
                         ) -> Iterator[np.ndarray]:
    """Render every spec in order, on ``workers`` processes (1: in this process)."""
    if workers <= 1:
        for spec in specs:
            yield render_source(spec, cfg, seed=spec.id)
        return
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(_render, ((s, cfg) for s in specs), chunksize=8)


def _truth_with_mags(truth: Table, mags: dict[str, np.ndarray], cfg: SimulateMembersParams) -> Table:
    out = truth.copy()
    for k, v in mags.items():
        out[k] = v
    names = {b.name for b in cfg.bands}
    for a, b in (("F606W", "F814W"), ("F814W", "F160W"), ("F435W", "F814W")):
        if a in names and b in names:
            out[f"colour_{a}_{b}"] = mags[f"mag_{a}"] - mags[f"mag_{b}"]
    out["mag_F814W" if "F814W" in names else f"mag_{cfg.reference_band}"].unit = "mag"
    out["re_arcsec"].unit = "arcsec"
    out["r_cl_arcsec"].unit = "arcsec"
    out["dv_kms"].unit = "km/s"
    return out


def write_members_simulation(cfg: SimulateMembersParams, cosmology: CosmologyParams, out_dir: str | Path, *,
                             workers: int = 1, block: int = 256, progress: bool = False) -> Table:
    """Simulate every source and stream the cutouts to ``out_dir`` atomically.

    Writes ``stamps.h5`` — dataset ``images`` of shape (n, size_px, size_px,
    n_bands), float32, e⁻/s per pixel, NaN in bands without coverage, with
    attributes ``channels``, ``unit`` (``electron/s``), ``pixel_arcsec`` and
    ``zero_points_ab`` — and ``truth.fits`` (see
    :func:`~skysieve.tasks.members._population.draw_population`, plus
    ``mag_<band>`` for every band, ``colour_*`` and ``n_neighbours``).

    Returns
    -------
    astropy.table.Table
        The truth catalog.
    """
    grid = colour_grid(cfg)
    truth = draw_population(cfg, cosmology, grid, rng=np.random.default_rng(cfg.seed))
    specs, mags = build_specs(truth, cfg, grid, seed=cfg.seed)
    table = _truth_with_mags(truth, mags, cfg)
    table["n_neighbours"] = np.array([len(s.neighbours) for s in specs], dtype=np.int16)
    n, size, nb = len(specs), cfg.size_px, len(cfg.bands)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        with h5py.File(tmp / STAMPS_FILE, "w") as h5:
            dset = h5.create_dataset(IMAGES_KEY, shape=(n, size, size, nb), dtype="float32",
                                     chunks=(min(16, n), size, size, nb))
            dset.attrs["channels"] = np.array([b.name for b in cfg.bands], dtype="S")
            dset.attrs["unit"] = "electron/s"
            dset.attrs["pixel_arcsec"] = cfg.pixel_scale_arcsec
            dset.attrs["pixel_arcmin"] = cfg.pixel_scale_arcsec / 60.0
            dset.attrs["zero_points_ab"] = np.array([b.zero_point_ab for b in cfg.bands])
            stream = iter_members_cutouts(specs, cfg, workers=workers)
            if progress:
                from rich.progress import track

                stream = track(stream, total=n, description="simulating members")
            buffer: list[np.ndarray] = []
            done = 0
            for image in stream:
                buffer.append(image)
                if len(buffer) == block:
                    dset[done: done + block] = np.stack(buffer)
                    done += block
                    buffer.clear()
            if buffer:
                dset[done: done + len(buffer)] = np.stack(buffer)
        table.write(tmp / TRUTH_FILE)
    return table
