"""Members cutout datasets from the simulated stamps (``skysieve cutouts members``).

Picks the bands of the configured band configuration (``ACS``, ``ALL`` or
``mixed``, Angora et al. 2020, §2), drops — and counts — the sources without
coverage in one of them (the paper's "rejection of missing data"), assigns
the 10 % validation hold-out and a test split, stratified by class within
every cluster (or sends whole clusters to ``test`` for the leave-clusters-out
experiment), and streams the standard cutout dataset
(:mod:`skysieve.data.dataset`): ``group`` is the cluster, so the engine's
grouped k-fold can keep clusters apart.
"""

from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table

from skysieve._io import atomic_path
from skysieve.data.dataset import IMAGES_KEY
from skysieve.errors import ConfigError, DataError
from skysieve.tasks.members.params import CutoutsMembersParams

__all__ = ["assign_member_splits", "make_members_cutouts"]

STAMPS_FILE = "stamps.h5"
TRUTH_FILE = "truth.fits"


def assign_member_splits(labels: np.ndarray, clusters: np.ndarray, *, val_frac: float, test_frac: float,
                         leave_out: tuple[str, ...] = (), seed: int | np.random.Generator) -> np.ndarray:
    """``train`` / ``val`` / ``test`` per source, stratified by class within each cluster.

    In every (cluster, class) stratum the sources are shuffled; the first
    ``round(test_frac · n)`` go to test, the next ``round(val_frac · n)`` to
    val.  Clusters named in ``leave_out`` go wholly to test and the val
    fraction is taken from the remaining ones.

    Returns
    -------
    ndarray of shape (n,), str
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    labels, clusters = np.asarray(labels), np.asarray(clusters).astype(str)
    split = np.full(labels.size, "train", dtype="U5")
    held = np.isin(clusters, list(leave_out))
    split[held] = "test"
    tf = 0.0 if leave_out else test_frac
    for c in np.unique(clusters[~held]):
        for y in (0, 1):
            idx = rng.permutation(np.flatnonzero((clusters == c) & (labels == y)))
            n_test, n_val = int(round(tf * idx.size)), int(round(val_frac * idx.size))
            split[idx[:n_test]] = "test"
            split[idx[n_test: n_test + n_val]] = "val"
    return split


def make_members_cutouts(sim_dir: str | Path, out_dir: str | Path, cfg: CutoutsMembersParams, *,
                         block: int = 256) -> Table:
    """Write ``out_dir/cutouts.h5`` and ``out_dir/catalog.fits`` from a members simulation, atomically.

    Returns
    -------
    astropy.table.Table
        The catalog (``id, ra, dec, label, split, group`` and the truth); its
        meta holds ``CHANNELS``, ``BANDCFG``, ``NSIM`` (simulated sources)
        and ``NDROP`` (dropped for a missing band).

    Raises
    ------
    DataError
        The simulation files are missing or disagree, or no source is left.
    ConfigError
        The band configuration names a band the simulation lacks, or
        ``leave_out_clusters`` a cluster it lacks.
    """
    sim_dir = Path(sim_dir)
    stamps_path, truth_path = sim_dir / STAMPS_FILE, sim_dir / TRUTH_FILE
    for p in (stamps_path, truth_path):
        if not p.is_file():
            raise DataError(f"{p}: not found; run `skysieve simulate members --out {sim_dir}` first")
    truth = Table.read(truth_path)
    clusters = np.char.strip(np.asarray(truth["cluster"]).astype(str))
    unknown = sorted(set(cfg.leave_out_clusters) - set(clusters))
    if unknown:
        raise ConfigError(f"cutouts_members.leave_out_clusters: {unknown} not among the simulated clusters "
                          f"{sorted(set(clusters))}")
    with h5py.File(stamps_path, "r") as src:
        images = src[IMAGES_KEY]
        channels = [c.decode() if isinstance(c, bytes) else str(c) for c in images.attrs["channels"]]
        if images.shape[0] != len(truth):
            raise DataError(f"{stamps_path} has {images.shape[0]} stamps but {truth_path} has {len(truth)} rows; "
                            "rerun `skysieve simulate members`")
        wanted = list(cfg.channels)
        absent = [c for c in wanted if c not in channels]
        if absent:
            raise ConfigError(f"cutouts_members.band_config={cfg.band_config} needs {absent}, not in the simulated "
                              f"bands {channels}; add them to simulate_members.bands or pick another configuration")
        index = [channels.index(c) for c in wanted]
        keep = np.all([np.asarray(truth[f"has_{c}"], dtype=bool) for c in wanted], axis=0)
        if not keep.any():
            raise DataError(f"{truth_path}: no source has coverage in all of {wanted}; pick another band_config")
        rows = np.flatnonzero(keep)
        catalog = truth[rows]
        split = assign_member_splits(np.asarray(catalog["label"]), clusters[rows], val_frac=cfg.val_frac,
                                     test_frac=cfg.test_frac, leave_out=cfg.leave_out_clusters, seed=cfg.seed)
        catalog.add_column(split, name="split", index=catalog.colnames.index("label") + 1)
        catalog.meta.update({"CHANNELS": ",".join(wanted), "BANDCFG": cfg.band_config, "NSIM": len(truth),
                             "NDROP": int((~keep).sum())})
        n, (ny, nx) = rows.size, images.shape[1:3]
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            with h5py.File(tmp / "cutouts.h5", "w") as dst:
                out = dst.create_dataset(IMAGES_KEY, shape=(n, ny, nx, len(index)), dtype="float32",
                                         chunks=(min(16, n), ny, nx, len(index)))
                for key, value in images.attrs.items():
                    out.attrs[key] = value
                out.attrs["channels"] = np.array(wanted, dtype="S")
                out.attrs["zero_points_ab"] = np.asarray(images.attrs["zero_points_ab"])[index]
                for start in range(0, n, block):
                    chunk = rows[start: start + block]
                    out[start: start + chunk.size] = images[chunk[0]: chunk[-1] + 1][chunk - chunk[0]][..., index]
            catalog.write(tmp / "catalog.fits")
    return catalog
