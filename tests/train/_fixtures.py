"""A tiny seeded cutout dataset in the on-disk format (``cutouts.h5`` + ``catalog.fits``)."""

from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table

CHANNELS = ("90GHz", "148GHz", "219GHz")

#: A tiny, fast ``train`` section: small ResNet, 2 folds, 2 epochs, fitted one after another in the
#: test's process (``fold_workers: 1``: no worker start-up per call; ``tests/train/test_parallel.py``
#: checks that worker processes give the same results).
TINY_RECIPE = {
    "net": {"name": "resnet_small", "stem_filters": 4, "width": 2, "stages": 2, "dense_units": 16},
    "optimizer": {"name": "adam", "learning_rate": 3e-3},
    "batch_size": 32, "eval_batch_size": 64, "epochs": 2, "k_folds": 2, "splitter": "group_kfold",
    "norm_sample": 64, "seed": 3, "experiment": "test", "fold_workers": 1,
}


def write_tiny_dataset(directory: Path, *, n: int = 200, size: int = 16, pos_frac: float = 0.2,
                       amplitude: float = 60.0, seed: int = 0) -> Path:
    """Write ``n`` noisy 3-band cutouts; positives hold a central tSZ-like blob.

    The blob is a decrement at 90/148 GHz and an increment at 219 GHz, of peak
    ``amplitude`` µK on white noise of 20 µK. Rows are laid out along RA in
    10 sky tiles (``group``); RA sets the split: test < val < train.
    """
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    labels = (rng.random(n) < pos_frac).astype(np.int16)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    blob = np.exp(-(xx**2 + yy**2) / (2 * (size / 8) ** 2))
    sed = np.array([-1.0, -0.6, 0.5])
    images = rng.normal(0.0, 20.0, (n, size, size, 3)).astype(np.float32)
    shift = rng.integers(-2, 3, (n, 2))
    for i in np.flatnonzero(labels):
        b = np.roll(blob, tuple(shift[i]), axis=(0, 1))
        images[i] += (amplitude * b[..., None] * sed).astype(np.float32)
    ra = np.sort(rng.uniform(10.0, 20.0, n))
    split = np.where(ra < 11.5, "test", np.where(ra < 13.0, "val", "train"))
    group = np.array([f"tile{int(r)}" for r in ra])
    with h5py.File(directory / "cutouts.h5", "w") as h5:
        ds = h5.create_dataset("images", data=images, chunks=(1, size, size, 3))
        ds.attrs["channels"] = list(CHANNELS)
        ds.attrs["unit"] = "uK_CMB"
        ds.attrs["pixel_arcmin"] = 0.25
    Table({"id": np.arange(n), "ra": ra, "dec": rng.uniform(-1, 1, n), "label": labels, "split": split,
           "group": group}).write(directory / "catalog.fits", overwrite=True)
    return directory
