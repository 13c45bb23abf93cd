"""The HDF5 row readers: rows in the order asked, shared by threads, pickled without their file handle."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
from astropy.table import Table

from skysieve.data import CutoutReader, TargetReader, dense_targets, open_dataset, write_dense_targets
from skysieve.data.dataset import IMAGES_KEY


def _dataset(directory, n=12):
    rng = np.random.default_rng(3)
    images = rng.normal(size=(n, 8, 8, 2)).astype(np.float32)
    targets = rng.normal(size=(n, 4, 4, 3)).astype(np.float32)
    with h5py.File(directory / "cutouts.h5", "w") as h5:
        h5.create_dataset(IMAGES_KEY, data=images).attrs["channels"] = ["a", "b"]
        write_dense_targets(h5, targets, loss="centre_heatmap", stride=2, channels=("h", "w", "l"))
    Table({"id": np.arange(n), "ra": np.zeros(n), "dec": np.zeros(n), "label": np.arange(n) % 2,
           "split": ["train"] * n, "group": np.arange(n)}).write(directory / "catalog.fits")
    return open_dataset(directory), images, targets


def test_readers_give_rows_in_the_order_asked_from_threads_and_after_pickling(tmp_path):
    dataset, images, targets = _dataset(tmp_path)
    rows = np.array([7, 2, 3, 4, 11])
    for reader, want in ((CutoutReader(dataset), images), (TargetReader(dense_targets(dataset)), targets)):
        np.testing.assert_array_equal(reader.read(rows), want[rows])
        with ThreadPoolExecutor(4) as pool:  # one handle, one lock
            got = list(pool.map(lambda k: reader.read(np.array([k, k + 1])), range(10)))
        for k, block in enumerate(got):
            np.testing.assert_array_equal(block, want[[k, k + 1]])
        copy = pickle.loads(pickle.dumps(reader))  # no handle travels; the copy reopens the file
        assert copy._h5 is None and reader._h5 is not None
        np.testing.assert_array_equal(copy.read(rows[::-1]), want[rows[::-1]])
        reader.close()
        assert reader._h5 is None
        np.testing.assert_array_equal(reader.read(np.arange(3)), want[:3])  # reopened
        reader.close()
        copy.close()
    assert CutoutReader(dataset).item_shape == (8, 8, 2)
