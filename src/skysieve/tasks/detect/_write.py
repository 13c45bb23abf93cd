"""Run the simulator over a set of fields and write them: FITS per band, the cluster truth and the field list."""

from pathlib import Path

import numpy as np
from astropy.table import Table

from skysieve.tasks.detect._fits import field_wcs, write_band
from skysieve.tasks.detect.params import SimulateDetectParams
from skysieve.tasks.detect.sim import field_centres, simulate_field, truth_columns

__all__ = ["cluster_counts", "simulate_fields"]


def cluster_counts(cfg: SimulateDetectParams, *, n: int, rng: np.random.Generator) -> np.ndarray:
    """Clusters per field: 0 for a ``blank_fraction`` of fields, else uniform in 1…``max_clusters``."""
    blank = rng.random(n) < cfg.blank_fraction
    return np.where(blank, 0, rng.integers(1, cfg.max_clusters + 1, n))


def simulate_fields(cfg: SimulateDetectParams, *, cosmo, out_dir: Path, n_fields: int | None = None, seed: int,
                    injected: list[list[tuple[float, float]]] | None = None, progress: bool = True
                    ) -> tuple[Table, Table]:
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
    field_rows, truth_rows = [], []
    for i in tqdm(range(n), desc="simulate fields", disable=not progress, unit="field"):
        clusters = None if injected is None else injected[i]
        f = simulate_field(cfg, cosmo=cosmo, index=i, n_clusters=int(counts[i]), centre=tuple(centres[i]),
                           seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]), clusters=clusters)
        wcs = field_wcs(ra_deg=f.ra_deg, dec_deg=f.dec_deg, size_px=size, pixel_arcsec=scale)
        files = {}
        for b in bands:
            name = f"fields/field_{i:04d}_{b}.fits"
            write_band(out_dir / name, f.images[b], wcs=wcs, band=b, sigma_nmgy=f.sigma_nmgy[b],
                       psf_fwhm_arcsec=cfg.psf_fwhm_arcsec)
            files[f"file_{b}"] = name
        for t in f.clusters:
            ra, dec = wcs.wcs_pix2world(t["x_px"], t["y_px"], 0)
            truth_rows.append({**t, "ra": float(ra), "dec": float(dec)})
        field_rows.append({"field": i, "ra": f.ra_deg, "dec": f.dec_deg, "n_clusters": len(f.clusters), **files})
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
