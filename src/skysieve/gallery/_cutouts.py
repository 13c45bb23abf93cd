"""Gallery thumbnails of a catalog made from cutouts or from band images: the engine's default for every search.

A catalog made from a directory of cutout files (header ``INPUT =
'cutouts'``, ``CUTDIR``, a ``file`` column with each row's file names) is
drawn from the same files: each row's bands (``FILTER``, ACS's
``FILTER1``/``FILTER2``, or the ``<stem>_<FILTER>`` name of a one-band file),
cropped to the central ``SIZE_PX`` pixels the model scored.  A catalog made
from band images (and positions) is cut from ``--images`` at each row's
``ra``, ``dec`` (:func:`~skysieve.gallery.default_thumbnails`).  Three or more
optical bands make a Lupton asinh colour composite (e.g. F814W red, F606W
green, F435W blue); fewer make one panel per band.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from skysieve.catalog._fits_checks import _band_of, _image_headers, fits_stem
from skysieve.errors import ConfigError, DataError
from skysieve.gallery._render import DEFAULT_SIZE_PX, default_thumbnails, render_bands

__all__ = ["catalog_thumbnails", "read_cutout_bands"]


def _channels(meta: Any) -> tuple[str, ...]:
    """The model's bands from a catalog header: ``NBANDS`` + ``BAND<i>``, else a comma-separated ``BANDS``."""
    n = int(meta.get("NBANDS", 0) or 0)
    named = tuple(str(meta[f"BAND{i}"]) for i in range(1, n + 1) if f"BAND{i}" in meta)
    return named or tuple(b.strip() for b in str(meta.get("BANDS", "")).split(",") if b.strip())


def read_cutout_bands(directory: Path, names: Sequence[str], *, channels: Sequence[str], size_px: int
                      ) -> dict[str, np.ndarray]:
    """The bands of one cutout (its files ``names`` in ``directory``), each cropped to its central ``size_px``.

    Raises
    ------
    DataError
        A file that is missing or unreadable, naming it.
    """
    out: dict[str, np.ndarray] = {}
    for name in names:
        path = directory / name
        if not path.is_file():
            raise DataError(f"{path}: cutout file of the catalog not found; give --images the directory the catalog "
                            "was made from (its CUTDIR header)")
        try:
            with fits.open(path) as hdul:
                headers = _image_headers(hdul)
                stem = fits_stem(path.name) or path.stem
                for index, header in headers:
                    band, _ = _band_of(header, hdul[0].header, stem, channels, len(headers))
                    if band is None or (channels and band not in channels):
                        continue
                    data = np.asarray(hdul[index].data, dtype=np.float32)
                    ny, nx = data.shape
                    s = min(size_px, ny, nx)
                    y0, x0 = (ny - s) // 2, (nx - s) // 2
                    out[band] = data[y0: y0 + s, x0: x0 + s]
        except OSError as exc:
            raise DataError(f"{path}: not a readable FITS file ({exc})") from None
    return out


def _from_directory(rows: Any, directory: Path, side: int) -> Iterator[np.ndarray | None]:
    if "file" not in rows.colnames:
        raise DataError(f"{directory}: the catalog has no 'file' column (it was made from band images and "
                        "positions); give --images those band images instead of a directory")
    channels = _channels(rows.meta)
    for files in rows["file"]:
        names = [n.strip() for n in str(files).split(",") if n.strip()]
        bands = read_cutout_bands(directory, names, channels=channels, size_px=side)
        order = [c for c in channels if c in bands] or sorted(bands)
        yield render_bands([bands[b] for b in order], order) if order else None


def catalog_thumbnails(rows: Any, images: tuple[Path, ...], *, size_px: int | None, who: str
                       ) -> Iterator[Any]:
    """Thumbnails of a catalog's rows from its own inputs (the default :meth:`Search.gallery_thumbnails`).

    ``images`` is the catalog's cutout directory (the header's ``CUTDIR``
    when none is given and the catalog was made from cutouts), or band
    images (``FILTER`` or ``FREQ``, celestial WCS); ``size_px`` defaults to
    the model's cutout side (``SIZE_PX``), else :data:`DEFAULT_SIZE_PX`.
    ``who`` (the search, or the catalog) opens the error when nothing is given.
    """
    meta = rows.meta
    side = size_px or int(meta.get("SIZE_PX", DEFAULT_SIZE_PX))
    cutdir = str(meta.get("CUTDIR") or "").strip()
    if len(images) == 1 and images[0].is_dir():
        yield from _from_directory(rows, images[0], side)
    elif not images and meta.get("INPUT") == "cutouts" and cutdir:
        if not Path(cutdir).is_dir():
            raise DataError(f"{cutdir}: the catalog's cutout directory (its CUTDIR header) is not found; give "
                            "--images with the directory where the cutouts are now")
        yield from _from_directory(rows, Path(cutdir), side)
    elif images:
        dirs = [str(p) for p in images if p.is_dir()]
        if dirs:
            raise ConfigError(f"--images {dirs}: give one cutout directory, or band images (FITS files), not both")
        yield from default_thumbnails(rows, images, size_px=side)
    else:
        raise ConfigError(f"{who}: the thumbnails are drawn from the catalog's inputs; give --images with its cutout "
                          "directory or its band images (one FITS image per band with a celestial WCS)")
