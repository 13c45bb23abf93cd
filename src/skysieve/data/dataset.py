"""Cutout datasets on disk: an HDF5 tensor file plus a FITS catalog.

The contract (DESIGN.md, "Cutout datasets"):

* ``<dir>/cutouts.h5`` holds dataset ``images`` of shape (n, ny, nx, nchan),
  float32, chunked by cutout so batches stream from disk; its attributes
  record ``channels`` (band names, in channel order), ``unit`` and
  ``pixel_arcmin``.
* ``<dir>/catalog.fits`` is a binary table with one row per cutout, row ``i``
  describing ``images[i]``: ``id``, ``ra``, ``dec`` (deg), ``label`` (0/1),
  ``split`` (``train``/``val``/``test``), ``group`` (sky tile or cluster for
  grouped k-fold) and the truth of the object the cutout holds.

Nothing here loads the whole tensor: :meth:`CutoutDataset.read` reads the rows
asked for, and :class:`CutoutReader` does so through one handle kept open
(the training streams' reader).
"""

import threading
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table

from skysieve.errors import DataError

__all__ = ["IMAGES_KEY", "CutoutDataset", "CutoutReader", "H5Rows", "open_dataset", "read_rows"]

IMAGES_KEY = "images"
REQUIRED_COLUMNS = ("id", "ra", "dec", "label", "split", "group")


@dataclass
class CutoutDataset:
    """A cutout tensor file and its catalog.

    Attributes
    ----------
    tensor_path, catalog_path : Path
    catalog : astropy.table.Table
        One row per cutout, in tensor order.
    channels : tuple of str
    shape : tuple of int
        (n, ny, nx, nchan).
    """

    tensor_path: Path
    catalog_path: Path
    catalog: Table
    channels: tuple[str, ...]
    shape: tuple[int, ...]

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def labels(self) -> np.ndarray:
        """Labels as an int array of shape (n,)."""
        return np.asarray(self.catalog["label"], dtype=np.int64)

    def indices(self, split: str) -> np.ndarray:
        """Row indices of one split (``train``, ``val`` or ``test``)."""
        return np.flatnonzero(np.char.strip(np.asarray(self.catalog["split"], dtype=str)) == split)

    def read(self, rows: np.ndarray | list[int] | slice) -> np.ndarray:
        """Read cutouts ``rows`` from disk, returned in the order asked for (see :func:`read_rows`).

        Returns
        -------
        ndarray of shape (len(rows), ny, nx, nchan), float32
        """
        with h5py.File(self.tensor_path, "r") as h5:
            images = h5[IMAGES_KEY]
            if isinstance(rows, slice):
                return images[rows]
            return read_rows(images, rows)


def read_rows(images: "h5py.Dataset", rows: np.ndarray | list[int]) -> np.ndarray:
    """Rows of an open cutout tensor, in the order given, as float32.

    The tensor is chunked by cutout, so reading row by row touches exactly the
    chunks wanted; that is an order of magnitude faster than an HDF5
    point-selection of the same rows (21 ms → 1.2 ms for 64 random 32×32×3
    cutouts). A contiguous ascending run is read as one slice.

    Parameters
    ----------
    images : h5py.Dataset
        Shape (n, ny, nx, nchan).
    rows : array-like of int

    Returns
    -------
    ndarray of shape (len(rows), ny, nx, nchan), float32
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((rows.size, *images.shape[1:]), dtype=np.float32)
    if rows.size == 0:
        return out
    if rows[-1] - rows[0] == rows.size - 1 and np.all(np.diff(rows) == 1):
        images.read_direct(out, np.s_[int(rows[0]) : int(rows[-1]) + 1])
    else:
        for j, i in enumerate(rows):
            out[j] = images[int(i)]
    return out


class H5Rows:
    """Reads rows of one dataset of an HDF5 file (:func:`read_rows`) through one handle kept open.

    Safe to share between threads (one lock); pickles without the handle
    (reopened on the next read), so Keras workers can take it.

    Parameters
    ----------
    path : path
        The HDF5 file.
    key : str
        The dataset in it (n, ...).
    """

    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key
        self._lock = threading.Lock()
        self._h5: h5py.File | None = None

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` of the dataset in the order given, float32."""
        with self._lock:
            if self._h5 is None:
                self._h5 = h5py.File(self.path, "r")
            return read_rows(self._h5[self.key], rows)

    def close(self) -> None:
        """Close the HDF5 handle (reopened on the next read)."""
        with self._lock:
            if self._h5 is not None:
                self._h5.close()
                self._h5 = None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_h5")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock, self._h5 = threading.Lock(), None


class CutoutReader(H5Rows):
    """Reads rows of a cutout tensor through one HDF5 handle kept open (:class:`H5Rows`).

    A dataset held in memory (:class:`skysieve.train._stored.StoredInputs`,
    which has ``images``) is read from there instead of the file.

    Parameters
    ----------
    dataset : CutoutDataset
    """

    def __init__(self, dataset: CutoutDataset):
        super().__init__(dataset.tensor_path, IMAGES_KEY)
        self.item_shape = tuple(dataset.shape[1:])
        self._memory = dataset if hasattr(dataset, "images") else None

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Cutouts ``rows`` in the order given, shape (len(rows), ny, nx, nchan), float32."""
        if self._memory is not None:
            return self._memory.read(rows)
        return super().read(rows)


def open_dataset(directory: str | Path) -> CutoutDataset:
    """Open ``<directory>/cutouts.h5`` and ``<directory>/catalog.fits``.

    Raises
    ------
    DataError
        If either file is missing or unreadable, the catalog lacks a contract
        column, or the row counts disagree.
    """
    directory = Path(directory)
    tensor_path, catalog_path = directory / "cutouts.h5", directory / "catalog.fits"
    for p in (tensor_path, catalog_path):
        if not p.is_file():
            raise DataError(f"{p}: not found; run `skysieve cutouts` (or `dvc repro`) to create it")
    try:
        catalog = Table.read(catalog_path)
    except Exception as exc:
        raise DataError(f"{catalog_path}: unreadable catalog ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in catalog.colnames]
    if missing:
        raise DataError(f"{catalog_path}: missing columns {missing}; a cutout catalog needs {list(REQUIRED_COLUMNS)}")
    try:
        with h5py.File(tensor_path, "r") as h5:
            images = h5[IMAGES_KEY]
            shape = tuple(int(s) for s in images.shape)
            channels = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in images.attrs.get("channels", ()))
    except Exception as exc:
        raise DataError(f"{tensor_path}: unreadable tensor file ({exc})") from exc
    if shape[0] != len(catalog):
        raise DataError(f"{tensor_path} has {shape[0]} cutouts but {catalog_path} has {len(catalog)} rows; "
                        "regenerate both with `skysieve cutouts`")
    return CutoutDataset(tensor_path, catalog_path, catalog, channels, shape)
