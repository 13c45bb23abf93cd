"""Lens cutout datasets from the simulated stamps (``skysieve cutouts lens``).

``skysieve simulate lens`` writes ``stamps.h5`` and ``truth.fits`` without
splits.  This step picks the channels (all three bands, or one for the
single-band experiments of Angora et al. 2023, Table A.3), assigns a
validation hold-out and a test split, and streams the result into the
standard cutout dataset (:mod:`skysieve.data.dataset`).

Splits are stratified by label and assigned per ``group`` (a lens and its
source-free twin share a group), so a galaxy never appears in two splits;
the k-fold cross-validation of the training split happens later, in the
engine, with the same groups.
"""

from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table

from skysieve._io import atomic_path
from skysieve.data.dataset import IMAGES_KEY
from skysieve.errors import ConfigError, DataError
from skysieve.tasks.lens.params import CutoutsLensParams, LensSplitParams

__all__ = ["assign_lens_splits", "make_lens_cutouts"]

STAMPS_FILE = "stamps.h5"
TRUTH_FILE = "truth.fits"


def assign_lens_splits(labels: np.ndarray, groups: np.ndarray, cfg: LensSplitParams, *,
                       seed: int | np.random.Generator) -> np.ndarray:
    """Assign ``train`` / ``val`` / ``test`` per group, stratified by label.

    A group is positive if it holds a positive.  Within each stratum the
    groups are shuffled and laid end to end by cutout count; a group goes to
    ``test`` if the midpoint of its run falls in the first ``test_frac`` of
    the stratum, to ``val`` if in the next ``val_frac``, else to ``train``.

    Parameters
    ----------
    labels : ndarray of shape (n,), int
    groups : ndarray of shape (n,), int
    cfg : LensSplitParams
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of shape (n,), str
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    group_label = np.zeros(unique.size, dtype=np.int64)
    np.maximum.at(group_label, inverse, labels)
    group_size = np.bincount(inverse, minlength=unique.size)
    group_split = np.full(unique.size, "train", dtype="U5")
    for stratum in (0, 1):
        members = rng.permutation(np.flatnonzero(group_label == stratum))
        sizes = group_size[members]
        total = sizes.sum()
        mid = np.cumsum(sizes) - sizes / 2.0
        n_test, n_val = cfg.test_frac * total, (cfg.test_frac + cfg.val_frac) * total
        group_split[members] = np.where(mid < n_test, "test", np.where(mid < n_val, "val", "train"))
    return group_split[inverse]


def make_lens_cutouts(sim_dir: str | Path, out_dir: str | Path, cfg: CutoutsLensParams, *,
                      block: int = 512) -> Table:
    """Write ``out_dir/cutouts.h5`` and ``out_dir/catalog.fits`` from a lens simulation, atomically.

    Parameters
    ----------
    sim_dir : path
        Output of ``skysieve simulate lens`` (``stamps.h5``, ``truth.fits``).
    out_dir : path
        Dataset directory; appears only when both files are complete.
    cfg : CutoutsLensParams
        Channels to keep and split fractions.

    Returns
    -------
    astropy.table.Table
        The catalog: ``id``, ``ra``, ``dec``, ``label``, ``split``, ``group``
        and the simulation truth, one row per cutout in tensor order.

    Raises
    ------
    DataError
        If the simulation files are missing or disagree.
    ConfigError
        If ``cutouts_lens.channels`` names a band the simulation lacks.
    """
    sim_dir = Path(sim_dir)
    stamps_path, truth_path = sim_dir / STAMPS_FILE, sim_dir / TRUTH_FILE
    for p in (stamps_path, truth_path):
        if not p.is_file():
            raise DataError(f"{p}: not found; run `skysieve simulate lens --out {sim_dir}` first")
    truth = Table.read(truth_path)
    with h5py.File(stamps_path, "r") as src:
        images = src[IMAGES_KEY]
        channels = [c.decode() if isinstance(c, bytes) else str(c) for c in images.attrs["channels"]]
        if images.shape[0] != len(truth):
            raise DataError(f"{stamps_path} has {images.shape[0]} stamps but {truth_path} has {len(truth)} rows; "
                            "rerun `skysieve simulate lens`")
        wanted = list(cfg.channels) if cfg.channels else channels
        unknown = [c for c in wanted if c not in channels]
        if unknown:
            raise ConfigError(f"cutouts_lens.channels: {unknown} not in the simulated bands {channels}; "
                              "pick from those or add the band to simulate_lens.bands")
        index = [channels.index(c) for c in wanted]
        catalog = truth.copy()
        split = assign_lens_splits(np.asarray(truth["label"]), np.asarray(truth["group"]), cfg.split, seed=cfg.seed)
        catalog.add_column(split, name="split", index=catalog.colnames.index("label") + 1)
        catalog.meta["CHANNELS"] = ",".join(wanted)
        n, ny, nx, _ = images.shape
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            with h5py.File(tmp / "cutouts.h5", "w") as dst:
                out = dst.create_dataset(IMAGES_KEY, shape=(n, ny, nx, len(index)), dtype="float32",
                                         chunks=(min(16, max(n, 1)), ny, nx, len(index)))
                for key, value in images.attrs.items():
                    out.attrs[key] = value
                out.attrs["channels"] = np.array(wanted, dtype="S")
                if "zero_points_ab" in images.attrs:
                    out.attrs["zero_points_ab"] = np.asarray(images.attrs["zero_points_ab"])[index]
                for start in range(0, n, block):
                    out[start: start + block] = images[start: start + block][..., index]
            catalog.write(tmp / "catalog.fits")
    return catalog
