"""Positions in large band images: each band cut at each ``ra``, ``dec`` with its own WCS.

A search whose model takes multi-band cutouts (lenses, cluster members)
catalogs sources of large images from a positions table through
:func:`open_positions`: the images are checked against the model's
:class:`~skysieve.catalog._fits_checks.CutoutSpec` (bands, pixel scale,
unit), every position is located in every band by that band's WCS, and the
cutouts are streamed in batches from the memory-mapped images.
"""


from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from skysieve.errors import DataError
from skysieve.catalog._fits_checks import (
    _check_scale,
    _filter_name,
    _image_headers,
    _keyword,
    _open,
    _sha256,
    _wcs,
    InputSpec,
    fits_stem,
    unit_factor,
)

__all__ = ["PositionCutouts", "open_positions", "read_positions"]


def _column(table: Table, name: str) -> str | None:
    for col in table.colnames:
        if col.lower() == name:
            return col
    return None


def read_positions(path: str | Path) -> Table:
    """Read a positions table (FITS, CSV or ECSV) into ``id``, ``ra``, ``dec`` (deg).

    Columns are found case-insensitively; ``ra`` and ``dec`` with a unit are
    converted to degrees, without one they are taken as degrees.  Without an
    ``id`` column the row number is the id.

    Raises
    ------
    DataError
        A missing, unreadable or empty file; no ``ra``/``dec`` columns
        (naming the columns it has); missing, non-finite or out-of-range
        values (naming the rows).
    """
    import astropy.units as u

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: positions table not found")
    low = path.name.lower().removesuffix(".gz")
    fmt = ("ascii.ecsv" if low.endswith(".ecsv") else "ascii.csv" if low.endswith(".csv")
           else "fits" if fits_stem(path.name) else None)
    if fmt is None:
        raise DataError(f"{path}: unknown positions table format; use a .fits, .csv or .ecsv table with ra, dec "
                        "(deg) and an optional id")
    try:
        table = Table.read(path, format=fmt)
    except Exception as exc:  # astropy raises many kinds on damaged files
        raise DataError(f"{path}: unreadable positions table ({exc.__class__.__name__}: {exc})") from exc
    names = {k: _column(table, k) for k in ("id", "ra", "dec")}
    if names["ra"] is None or names["dec"] is None:
        raise DataError(f"{path}: no 'ra' and 'dec' columns (has {table.colnames}); the positions table needs ra and "
                        "dec in degrees (ICRS) and may have an id")
    if len(table) == 0:
        raise DataError(f"{path}: no rows; give at least one position")
    out = Table()
    out["id"] = table[names["id"]] if names["id"] else np.arange(len(table), dtype=np.int64)
    keys, counts = np.unique(np.asarray(out["id"]).astype(str), return_counts=True)
    if (counts > 1).any():
        twice = keys[counts > 1]
        raise DataError(f"{path}: {twice.size} ids occur more than once (e.g. {twice[:3].tolist()}); each row of the "
                        "catalog is one source: make the ids unique or drop the id column (rows are then numbered)")
    for key in ("ra", "dec"):
        col = table[names[key]]
        mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)), dtype=bool)
        try:
            values = (col.quantity.to_value(u.deg) if getattr(col, "unit", None) is not None
                      else np.asarray(col, dtype=float))
        except (u.UnitConversionError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: column '{names[key]}' is not an angle in degrees ({exc})") from None
        values = np.where(mask, np.nan, np.asarray(values, float))
        bad = ~np.isfinite(values) if key == "ra" else ~(np.isfinite(values) & (np.abs(values) <= 90))
        if bad.any():
            rows = np.flatnonzero(bad)
            raise DataError(f"{path}: {rows.size} rows with a missing or invalid {key} (rows {rows[:5].tolist()}"
                            f"{'…' if rows.size > 5 else ''}); give finite ra and -90 ≤ dec ≤ 90, in degrees")
        out[key] = values % 360.0 if key == "ra" else values
        out[key].unit = "deg"
    return out


@dataclass
class _Image:
    path: Path
    band: str
    data: Any  # (ny, nx), memory-mapped where astropy can
    wcs: WCS
    factor: float


@dataclass
class PositionCutouts:
    """Checked band images and positions, with each position located in every image; streamed by :meth:`batches`.

    Attributes
    ----------
    images : list
        One per band, in channel order.
    positions_path : Path
    ids : ndarray of shape (n,)
    ra, dec : ndarray of shape (n,), deg
    x, y : ndarray of shape (n,)
        0-based pixel position in the first band's image.
    flag_edge : ndarray of shape (n,), bool
        The cutout is not wholly inside every image (not scored).
    off_image : ndarray of shape (n,), bool
        The position itself is off some image.
    """

    config: InputSpec
    images: list[_Image]
    positions_path: Path
    ids: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    xy: np.ndarray  # (nband, 2, n)
    flag_edge: np.ndarray
    off_image: np.ndarray
    digests: list[str]
    positions_digest: str
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def n(self) -> int:
        """Number of positions."""
        return int(self.ids.size)

    @property
    def usable(self) -> np.ndarray:
        """Positions whose cutout lies inside every image."""
        return ~self.flag_edge

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(index, images)`` for the usable positions: float32 (b, size, size, nchan), in the model's unit."""
        from astropy.nddata import Cutout2D, NoOverlapError, PartialOverlapError

        s = self.config.size_px
        rows = np.flatnonzero(self.usable)
        for start in range(0, rows.size, batch_size):
            index = rows[start: start + batch_size]
            out = np.empty((index.size, s, s, len(self.images)), dtype=np.float32)
            for k, i in enumerate(index):
                for c, image in enumerate(self.images):
                    x, y = self.xy[c, :, i]
                    try:
                        cut = Cutout2D(image.data, (x, y), (s, s), mode="strict", copy=True)
                    except (NoOverlapError, PartialOverlapError):  # the edge test above is the same rule
                        out[k, :, :, c] = np.nan
                        continue
                    out[k, :, :, c] = np.asarray(cut.data, dtype=np.float32) * image.factor
            yield index, out

    def header(self) -> dict[str, Any]:
        """FITS header keywords: ``INPUT``, ``NIMAGES``, ``IMAGE<i>``, ``SHA256_<i>``, ``POSFILE``, ``POSSHA``,
        ``NPOS``, ``NEDGE``, ``NOFFIMG``."""
        meta: dict[str, Any] = {"INPUT": "positions", "NIMAGES": len(self.images)}
        for i, (image, digest) in enumerate(zip(self.images, self.digests), start=1):
            meta[f"IMAGE{i}"] = image.path.name
            meta[f"SHA256_{i}"] = digest
        meta.update({"POSFILE": self.positions_path.name, "POSSHA": self.positions_digest, "NPOS": self.n,
                     "NEDGE": int(self.flag_edge.sum()), "NOFFIMG": int(self.off_image.sum())})
        return meta

    def columns(self) -> dict[str, tuple[np.ndarray, str | None]]:
        """Input-specific output columns: ``x``, ``y`` (pix, first band), ``flag_edge``, ``off_image``."""
        return {"x": (self.xy[0, 0], "pix"), "y": (self.xy[0, 1], "pix"), "flag_edge": (self.flag_edge, None),
                "off_image": (self.off_image, None)}

    def summary(self) -> dict[str, Any]:
        """Counts: ``n_edge``, ``n_off_image``."""
        return {"n_edge": int(self.flag_edge.sum()), "n_off_image": int(self.off_image.sum())}

    def close(self) -> None:
        """Close the image files."""
        self._stack.close()


def _open_image(path: Path, stack: ExitStack) -> tuple[Any, fits.Header, fits.Header]:
    if not path.is_file():
        raise DataError(f"{path}: image not found")
    hdul = stack.enter_context(_open(path, memmap=True))
    images = _image_headers(hdul)
    if not images:
        raise DataError(f"{path}: no 2-D image HDU; --images takes one FITS image per band")
    index, header = images[0]
    return hdul[index].data, header, hdul[0].header


def open_positions(images: Sequence[str | Path], positions: str | Path, config: InputSpec, *,
                   who: str = "the model") -> PositionCutouts:
    """Open and check one large image per band and a positions table; locate every position in every image.

    Parameters
    ----------
    images : sequence of path
        One FITS image per band (any order), ``FILTER``, a celestial WCS
        (TAN typically; each band its own), ``BUNIT``.
    positions : path
        ``ra``, ``dec`` (deg, ICRS), optional ``id`` (see :func:`read_positions`).
    config : CutoutSpec
        What the model takes (or any object with its attributes).
    who : str, keyword-only
        The model, for messages.

    Returns
    -------
    PositionCutouts
        Close it (:meth:`PositionCutouts.close`) when done: the images stay
        open, memory-mapped, while the cutouts are streamed.

    Raises
    ------
    DataError
        A missing or unreadable file; an image without ``FILTER`` or a
        celestial WCS; bands other than the model's; pixels of another scale
        (1 % tolerance); a ``BUNIT`` not convertible to the model's unit; a bad
        positions table; no position whose cutout lies inside every image.
    """
    paths = [Path(p) for p in images]
    if not paths:
        raise DataError("no images given; pass one FITS image per band with --images")
    table = read_positions(positions)
    stack = ExitStack()
    try:
        found: list[_Image] = []
        for path in paths:
            data, header, primary = _open_image(path, stack)
            band = _filter_name(header, primary, config.channels, inherit=True)
            if not band:
                raise DataError(f"{path}: no FILTER keyword; name the image's band (FILTER = {config.channels[0]})")
            wcs = _wcs(header, where=str(path))
            if wcs is None:
                raise DataError(f"{path}: no celestial WCS (need RA/DEC axes, e.g. CTYPE1 = 'RA---TAN'); positions "
                                "are placed on the images by their WCS")
            _check_scale(wcs, config, where=str(path), who=who, fix="resample the image")
            factor = unit_factor(_keyword(header, primary, "BUNIT") or "", config.unit, where=str(path))
            found.append(_Image(path, band, data, wcs, factor))
        have = [im.band for im in found]
        if len(set(have)) != len(have) or sorted(have) != sorted(config.channels):
            files = ", ".join(f"{im.path} ({im.band})" for im in found)
            raise DataError(f"images {files} have bands {have} but {who} takes {list(config.channels)}; pass exactly "
                            f"one image per band ({', '.join(config.channels)})")
        ordered = [found[have.index(c)] for c in config.channels]
        xy, edge, off = _locate(np.asarray(table["ra"], float), np.asarray(table["dec"], float), ordered,
                                config.size_px)
        if edge.all():
            raise DataError(f"none of the {len(table)} positions in {positions} has its {config.size_px}×"
                            f"{config.size_px} px cutout inside every image ({', '.join(str(p) for p in paths)}; "
                            f"{int(off.sum())} are off an image); check that ra, dec are in degrees (ICRS) and fall "
                            "on the images")
        digests = [_sha256(im.path) for im in ordered]
        return PositionCutouts(config=config, images=ordered, positions_path=Path(positions),
                               ids=np.asarray(table["id"]), ra=np.asarray(table["ra"], float),
                               dec=np.asarray(table["dec"], float), xy=xy, flag_edge=edge, off_image=off,
                               digests=digests, positions_digest=_sha256(Path(positions)), _stack=stack)
    except BaseException:
        stack.close()
        raise


def _locate(ra: np.ndarray, dec: np.ndarray, images: list[_Image], size: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel positions (nband, 2, n) and the edge and off-image flags, by the rule of ``Cutout2D(mode="strict")``.

    A ``size``-pixel cutout at pixel position ``p`` spans pixels
    ``ceil(p − size/2)`` … ``+ size − 1`` on each axis
    (:func:`astropy.nddata.utils.overlap_slices`).
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    sky = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
    xy = np.empty((len(images), 2, ra.size))
    edge = np.zeros(ra.size, dtype=bool)
    off = np.zeros(ra.size, dtype=bool)
    for c, image in enumerate(images):
        with np.errstate(invalid="ignore"):
            x, y = (np.asarray(v, float) for v in image.wcs.world_to_pixel(sky))
        xy[c, 0], xy[c, 1] = x, y
        ny, nx = image.data.shape
        with np.errstate(invalid="ignore"):
            inside = np.ones(ra.size, dtype=bool)
            centre = np.ones(ra.size, dtype=bool)
            for p, n in ((x, nx), (y, ny)):
                lo = np.ceil(p - size / 2.0)
                inside &= np.isfinite(p) & (lo >= 0) & (lo + size <= n)
                centre &= np.isfinite(p) & (p >= -0.5) & (p < n - 0.5)
        edge |= ~inside
        off |= ~centre
    return xy, edge, off
