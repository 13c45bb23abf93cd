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
asked for.
"""

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table

from skysieve.errors import DataError

__all__ = ["IMAGES_KEY", "CutoutDataset", "open_dataset"]

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
        """Read cutouts ``rows`` from disk, returned in the order asked for.

        Returns
        -------
        ndarray of shape (len(rows), ny, nx, nchan), float32
        """
        with h5py.File(self.tensor_path, "r") as h5:
            images = h5[IMAGES_KEY]
            if isinstance(rows, slice):
                return images[rows]
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size == 0:
                return np.empty((0, *self.shape[1:]), dtype=np.float32)
            order = np.argsort(rows, kind="stable")
            sorted_rows = rows[order]
            unique, inverse = np.unique(sorted_rows, return_inverse=True)
            block = images[unique]
            out = np.empty((rows.size, *self.shape[1:]), dtype=np.float32)
            out[order] = block[inverse]
            return out


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
