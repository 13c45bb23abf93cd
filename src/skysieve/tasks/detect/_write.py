"""Run the simulator over a set of fields and write them: FITS per band, the cluster truth and the field list."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from skysieve.tasks.detect._fits import field_wcs, write_band
from skysieve.tasks.detect.params import SimulateDetectParams
from skysieve.tasks.detect.sim import field_centres, simulate_field, truth_columns

__all__ = ["cluster_counts", "simulate_fields"]


@contextmanager
def _pool(workers: int) -> Iterator[Any]:
    """A spawn pool of ``workers`` processes, or None for 1 (work in this process)."""
    if workers <= 1:
        yield None
        return
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        yield pool


def cluster_counts(cfg: SimulateDetectParams, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Clusters per field: 0 for a ``blank_fraction`` of fields, else uniform in 1…``max_clusters``."""
    blank = rng.random(n) < cfg.blank_fraction
    return np.where(blank, 0, rng.integers(1, cfg.max_clusters + 1, n))


def _write_field(args: tuple) -> tuple[dict, list[dict]]:
    """Simulate field ``i`` and write its band images; its field row and truth rows (a worker's task)."""
    cfg, cosmo, out_dir, i, n_clusters, centre, seed, clusters = args
    size = cfg.native_size_px // cfg.bin
    f = simulate_field(cfg, cosmo=cosmo, index=i, n_clusters=n_clusters, centre=centre, seed=seed, clusters=clusters)
    wcs = field_wcs(ra_deg=f.ra_deg, dec_deg=f.dec_deg, size_px=size, pixel_arcsec=cfg.native_pixel_arcsec * cfg.bin)
    files = {}
    for b in (b.name for b in cfg.bands):
        name = f"fields/field_{i:04d}_{b}.fits"
        write_band(out_dir / name, f.images[b], wcs=wcs, band=b, sigma_nmgy=f.sigma_nmgy[b],
                   psf_fwhm_arcsec=cfg.psf_fwhm_arcsec)
        files[f"file_{b}"] = name
    truth_rows = []
    for t in f.clusters:
        ra, dec = wcs.wcs_pix2world(t["x_px"], t["y_px"], 0)
        truth_rows.append({**t, "ra": float(ra), "dec": float(dec)})
    return {"field": i, "ra": f.ra_deg, "dec": f.dec_deg, "n_clusters": len(f.clusters), **files}, truth_rows


def simulate_fields(cfg: SimulateDetectParams, *, cosmo, out_dir: Path, n_fields: int | None = None, seed: int,
                    injected: list[list[tuple[float, float]]] | None = None, progress: bool = True,
                    workers: int = 1) -> tuple[Table, Table]:
    """Simulate fields into ``out_dir``: ``fields/field_<i>_<band>.fits``, ``truth.fits``, ``fields.fits``.

    Parameters
    ----------
    cfg : SimulateDetectParams
    cosmo : CosmologyParams
    out_dir : Path
        A new directory (callers replace it atomically).
    n_fields : int, optional
        Default ``cfg.n_fields``.
    seed : int
        Field ``i`` uses the seed sequence (seed, i).
    injected : list of lists of (m200_msun, z), optional
        The clusters of each field (injection–recovery); else drawn.
    workers : int
        Processes simulating fields at once (1: in this process). Every field has its own seed, so the
        files do not depend on it.

    Returns
    -------
    fields, truth : astropy.table.Table
    """
    from astropy import units as u
    from tqdm import tqdm

    n = cfg.n_fields if n_fields is None else n_fields
    counts = cluster_counts(cfg, n=n, rng=np.random.default_rng([seed, 10**6]))
    centres = field_centres(cfg, n)
    size = cfg.native_size_px // cfg.bin
    scale = cfg.native_pixel_arcsec * cfg.bin
    (out_dir / "fields").mkdir(parents=True, exist_ok=True)
    bands = [b.name for b in cfg.bands]
    tasks = ((cfg, cosmo, out_dir, i, int(counts[i]), tuple(centres[i]),
              int(np.random.SeedSequence([seed, i]).generate_state(1)[0]), None if injected is None else injected[i])
             for i in range(n))
    field_rows, truth_rows = [], []
    with _pool(min(workers, n)) as pool:
        done = map(_write_field, tasks) if pool is None else pool.imap(_write_field, tasks, chunksize=4)
        for row, rows in tqdm(done, total=n, desc="simulate fields", disable=not progress, unit="field"):
            field_rows.append(row)
            truth_rows += rows
    fields = Table(rows=field_rows)
    truth = Table(rows=truth_rows, names=list(truth_columns)) if truth_rows else Table(
        names=list(truth_columns), dtype=[float] * len(truth_columns))
    for name, unit in truth_columns.items():
        if unit:
            truth[name].unit = u.Unit(unit)
    meta = {"PIXSCALE": scale, "SIZE_PX": size, "BANDS": ",".join(bands), "SEED": seed}
    fields.meta.update(meta)
    truth.meta.update(meta)
    fields.write(out_dir / "fields.fits", overwrite=True)
    truth.write(out_dir / "truth.fits", overwrite=True)
    return fields, truth
