"""The two inputs of the lens catalog: a directory of multi-band cutouts, or positions in large band images.

Both are checked from the FITS headers (and the positions table) before any
pixel is read — bands, cutout size, pixel scale, ``BUNIT`` — and both hand
the cutouts over in batches (:meth:`CutoutDirectory.batches`,
:meth:`PositionCutouts.batches`), so memory holds one batch whatever the
size of the run.

**Cutout directory.** Every ``*.fits`` / ``*.fit`` / ``*.fts`` (optionally
``.gz``) file in the directory (not its subdirectories) is either

* a *cutout file*: one 2-D image HDU per band, the band named by its
  ``FILTER`` keyword, HDUs in any order (HDUs of other bands, or without
  ``FILTER``, are ignored); or
* a *band file* ``<stem>_<FILTER>.fits`` with a single image HDU; the band
  files of one stem make one cutout (``FILTER`` may be left out of such a
  file's header: the name says it).

Band names match the model's regardless of case; where ``FILTER`` is absent,
HST/ACS's ``FILTER1``/``FILTER2`` (the one that is not ``CLEAR…``) names the
band.

The cutout's ``id`` is the stem.  A cutout larger than the model's is cropped
to its central ``size_px × size_px`` pixels, starting at pixel
``(n − size_px) // 2`` of each axis (Angora et al. 2023 score the central
region of larger cutouts); a smaller one is an error.  ``ra``, ``dec`` are
the world coordinates of the cropped cutout's centre where the file has a
celestial WCS (NaN elsewhere).

**Positions.** One large image per band (its first 2-D image HDU, ``FILTER``
in that HDU or the primary header, and a celestial WCS, each band with its
own), and a table of ``ra``, ``dec`` (deg, ICRS) with an
optional ``id``.  Each band is cut at each position with
:class:`astropy.nddata.Cutout2D` (mode ``strict``) from its own pixel
position ``wcs.world_to_pixel``; a position whose cutout is not wholly inside
every image is kept with ``flag_edge`` (and ``off_image`` when its centre is
off an image) and is not scored.
"""

import functools
import hashlib
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS, FITSFixedWarning

from skysieve.errors import DataError
from skysieve.tasks.lens._catalog_config import LensCatalogConfig

__all__ = ["CutoutDirectory", "PositionCutouts", "combined_sha256", "fits_stem", "open_cutout_dir",
           "open_positions", "read_positions", "unit_factor"]

#: File name endings read as FITS (each optionally followed by ``.gz``).
FITS_SUFFIXES = (".fits", ".fit", ".fts")
#: Largest relative difference between an input's pixel scale and the model's.
PIXEL_RTOL = 0.01
_IMAGE_HDUS = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)


def fits_stem(name: str) -> str | None:
    """The name without its FITS ending (``a.fits.gz`` → ``a``); None if it is not a FITS file name."""
    low = name.lower()
    if low.endswith(".gz"):
        name, low = name[:-3], low[:-3]
    for suffix in FITS_SUFFIXES:
        if low.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def combined_sha256(digests: Sequence[str]) -> str:
    """SHA-256 over hex digests sorted and each followed by a newline.

    For a directory that is ``sha256sum * | cut -c1-64 | sort | sha256sum``:
    independent of file order, changed by any byte of any file.
    """
    return hashlib.sha256("".join(f"{d}\n" for d in sorted(digests)).encode()).hexdigest()


def unit_factor(bunit: str, unit: str, *, where: str) -> float:
    """The factor that converts pixels in ``bunit`` to ``unit``; 1 for an empty ``BUNIT``.

    ``BUNIT`` is read as an astropy unit; HST's ``ELECTRONS/S`` and ``e-/s``
    are read as ``electron/s``.

    Raises
    ------
    DataError
        For a unit that does not parse or cannot be converted to ``unit``;
        the message says which unit the model takes.
    """
    text = str(bunit or "").strip()
    factor, problem = _unit_factor(text, unit) if text else (1.0, "")
    if problem:
        raise DataError(f"{where}: BUNIT = {text!r} {problem}; the model takes pixels in {unit} (BUNIT = "
                        f"'{unit}', as the training cutouts): convert the image to {unit} or set BUNIT")
    return factor


@functools.lru_cache(maxsize=64)
def _unit_factor(text: str, unit: str) -> tuple[float, str]:
    """(factor, "") or (nan, what is wrong); cached: thousands of files share a few BUNIT values."""
    import astropy.units as u

    target = u.Unit(unit)
    aliases = text.lower().replace("electrons", "electron").replace("e-", "electron").replace("sec", "s")
    for candidate in dict.fromkeys((text, aliases)):
        try:
            parsed = u.Unit(candidate, parse_strict="raise")
        except ValueError:
            continue
        try:
            return float(parsed.to(target)), ""
        except u.UnitConversionError:
            return math.nan, f"cannot be converted to {target}"
    return math.nan, "is not a unit astropy reads"


def _pixel_scales_arcsec(wcs: WCS) -> np.ndarray:
    from astropy.wcs.utils import proj_plane_pixel_scales

    return np.asarray(proj_plane_pixel_scales(wcs.celestial), float) * 3600.0


def _check_scale(wcs: WCS, config: LensCatalogConfig, *, where: str, who: str, fix: str) -> None:
    scales = _pixel_scales_arcsec(wcs)
    want = config.pixel_arcsec
    if np.any(np.abs(scales - want) > PIXEL_RTOL * want):
        got = " × ".join(f"{s:.4g}" for s in scales)
        raise DataError(f"{where}: pixels of {got}″ but {who} takes {want:g}″ pixels (within "
                        f"{PIXEL_RTOL:.0%}); {fix} to {want:g}″/px")


_WCS_CARD = re.compile(r"^(WCSAXES|CTYPE\d|CRPIX\d|CRVAL\d|CDELT\d|CUNIT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|LONPOLE|"
                       r"LATPOLE|RADESYS|EQUINOX|EPOCH)$")


def _wcs_cards(header: fits.Header) -> tuple:
    """The WCS keywords of a header and their values: bands that share them share one WCS."""
    return tuple(card.image for card in header.cards if _WCS_CARD.match(card.keyword))


def _wcs(header: fits.Header, *, where: str) -> WCS | None:
    """The celestial WCS of a header, or None without one."""
    if not any(k.startswith("CTYPE") for k in header):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header, naxis=2)
    except Exception as exc:  # astropy raises many kinds on a bad WCS
        raise DataError(f"{where}: invalid WCS ({exc.__class__.__name__}: {exc}); fix or remove the WCS keywords"
                        ) from exc
    return wcs.celestial if wcs.has_celestial else None


def _radec(wcs: WCS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS ra, dec (deg) of 0-based pixel positions."""
    lon = wcs.wcs.lng if wcs.wcs.lng >= 0 else 0
    if str(wcs.wcs.ctype[lon]).upper().startswith("RA"):
        world = wcs.pixel_to_world_values(x, y)
        return np.asarray(world[lon], float) % 360.0, np.asarray(world[1 - lon], float)
    sky = wcs.pixel_to_world(x, y).icrs
    return np.asarray(sky.ra.deg, float), np.asarray(sky.dec.deg, float)


def _open(path: Path, *, memmap: bool = False) -> fits.HDUList:
    try:
        return fits.open(path, memmap=memmap)
    except Exception as exc:  # astropy raises OSError, VerifyError, TypeError… on damage
        raise DataError(f"{path}: not a readable FITS file ({exc.__class__.__name__}: {exc}); re-download or "
                        "regenerate it") from exc


def _image_headers(hdul: fits.HDUList) -> list[tuple[int, fits.Header]]:
    out = []
    for i, hdu in enumerate(hdul):
        if isinstance(hdu, _IMAGE_HDUS) and hdu.header.get("NAXIS") == 2:
            out.append((i, hdu.header))
    return out


def _keyword(header: fits.Header, primary: fits.Header, key: str) -> str | None:
    value = header.get(key, primary.get(key))
    return None if value is None else str(value).strip()


def _filter_name(header: fits.Header, primary: fits.Header, channels: Sequence[str], *,
                 inherit: bool) -> str | None:
    """The band of an image HDU: ``FILTER``, else the one of ACS's ``FILTER1``/``FILTER2`` that is not ``CLEAR…``.

    Looked up in the primary header too when ``inherit``; matched to the
    model's channel names regardless of case.
    """
    for h in (header, primary) if inherit else (header,):
        name = str(h.get("FILTER") or "").strip()
        if not name:
            named = [str(h[k]).strip() for k in ("FILTER1", "FILTER2") if str(h.get(k) or "").strip()]
            named = [f for f in named if not f.upper().startswith("CLEAR")]
            name = named[0] if len(named) == 1 else ""
        if name:
            return {c.upper(): c for c in channels}.get(name.upper(), name)
    return None


def _sha256(path: Path) -> str:
    from skysieve.tasks.sz.catalog import file_sha256

    return file_sha256(path)


# --------------------------------------------------------------------------------------------------------------
# A directory of cutouts
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Band:
    """One band of one cutout: where its image is and the factor to the model's unit."""

    path: Path
    hdu: int
    factor: float


@dataclass(frozen=True)
class _Cutout:
    id: str
    bands: tuple[_Band, ...]  # channel order
    shape: tuple[int, int]

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(b.path for b in self.bands))


@dataclass
class CutoutDirectory:
    """The checked cutouts of a directory (headers read, no pixels), streamed by :meth:`batches`.

    Attributes
    ----------
    directory : Path
    config : LensCatalogConfig
    cutouts : list
        Per cutout: its id, where each band's image is (file, HDU, unit factor) and its shape.
    ids : ndarray of shape (n,), str
        File stems, sorted.
    ra, dec : ndarray of shape (n,)
        World position of each (cropped) cutout's centre, deg; NaN without a celestial WCS.
    files : ndarray of shape (n,), str
        The file(s) of each cutout, comma-separated names.
    shapes : ndarray of shape (n, 2), int
        (ny, nx) of each cutout before cropping.
    n_files : int
        FITS files read.
    n_skipped : int
        Band files of bands the model does not take (ignored).
    digests : dict of str to str
        SHA-256 of every file read so far by :meth:`batches`.
    """

    directory: Path
    config: LensCatalogConfig
    cutouts: list[_Cutout]
    ids: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    files: np.ndarray
    shapes: np.ndarray
    n_files: int
    n_skipped: int
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of cutouts."""
        return len(self.cutouts)

    @property
    def usable(self) -> np.ndarray:
        """Which cutouts can be scored (all of them: every check passed)."""
        return np.ones(self.n, dtype=bool)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(index, images)``: row indices and the cropped cutouts, float32 (b, size, size, nchan).

        Pixels are converted to the model's unit.  Each file is read once and
        its SHA-256 recorded in :attr:`digests`.
        """
        s = self.config.size_px
        for start in range(0, self.n, batch_size):
            index = np.arange(start, min(start + batch_size, self.n))
            images = np.empty((index.size, s, s, len(self.config.bands)), dtype=np.float32)
            for k, i in enumerate(index):
                images[k] = self._read(self.cutouts[i])
            yield index, images

    def _read(self, cutout: _Cutout) -> np.ndarray:
        s = self.config.size_px
        ny, nx = cutout.shape
        y0, x0 = (ny - s) // 2, (nx - s) // 2
        out = np.empty((s, s, len(cutout.bands)), dtype=np.float32)
        for path in cutout.files:
            with _open(path) as hdul:
                for c, band in enumerate(cutout.bands):
                    if band.path == path:
                        try:
                            data = hdul[band.hdu].data
                        except Exception as exc:  # truncated data behind a good header
                            raise DataError(f"{path}: cannot read the image of HDU {band.hdu} ({exc}); "
                                            "re-download or regenerate it") from exc
                        out[..., c] = np.asarray(data[y0: y0 + s, x0: x0 + s], dtype=np.float32) * band.factor
            self.digests[path.name] = _sha256(path)
        return out

    def header(self) -> dict[str, Any]:
        """FITS header keywords of the input: ``INPUT``, ``CUTDIR``, ``NFILES``, ``NCUTOUT``, ``SHA256``.

        ``SHA256`` is :func:`combined_sha256` of the per-file digests, so it
        is complete only after :meth:`batches` has run to the end.
        """
        return {"INPUT": "cutouts", "CUTDIR": str(self.directory), "NFILES": len(self.digests),
                "NCUTOUT": self.n, "SHA256": combined_sha256(list(self.digests.values()))}

    def columns(self) -> dict[str, tuple[np.ndarray, str | None]]:
        """Input-specific output columns: ``file``."""
        return {"file": (self.files, None)}

    def summary(self) -> dict[str, Any]:
        """Counts: ``n_files``, ``n_skipped_files``."""
        return {"n_files": self.n_files, "n_skipped_files": self.n_skipped}


def _band_of(header: fits.Header, primary: fits.Header, stem: str, channels: Sequence[str],
             n_images: int) -> tuple[str | None, str | None]:
    """(band, group id if a band file ``<stem>_<FILTER>``) of an image HDU.

    An HDU's own ``FILTER`` names its band; a file's single image HDU may
    inherit it from the primary header.
    """
    band = _filter_name(header, primary, channels, inherit=n_images == 1)
    if n_images != 1:
        return band, None
    names = [band] if band else list(channels)
    for name in names:
        if stem.lower().endswith("_" + name.lower()) and len(stem) > len(name) + 1:
            return name, stem[: -len(name) - 1]
    return band, None


def open_cutout_dir(directory: str | Path, config: LensCatalogConfig, *, who: str = "the model") -> CutoutDirectory:
    """Find and check the cutouts of a directory, reading headers only.

    Parameters
    ----------
    directory : path
        Cutout files and/or band files (see the module docstring).
    config : LensCatalogConfig
        What the model takes: bands, pixel scale, cutout side, unit.
    who : str, keyword-only
        The model, for messages (``model 'x' v3``).

    Returns
    -------
    CutoutDirectory

    Raises
    ------
    DataError
        No such directory or no FITS file in it; an unreadable file; a cutout
        lacking a band (naming the file and the band), with a band twice,
        bands of different shapes, smaller than the model's cutouts, with
        pixels of another scale (from its WCS, 1 % tolerance) or a ``BUNIT``
        not convertible to the model's unit.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: cutout directory not found; --cutouts takes a directory of FITS cutouts")
    paths = sorted(p for p in directory.iterdir() if p.is_file() and fits_stem(p.name))
    if not paths:
        raise DataError(f"{directory}: no FITS files (*.fits, *.fit, *.fts, optionally .gz); put one file per "
                        "cutout (one image HDU per band, FILTER keyword) or one per band named <stem>_<FILTER>.fits")
    channels = config.channels
    groups: dict[str, dict[str, tuple[Path, int, fits.Header, fits.Header]]] = {}
    sources: dict[str, list[Path]] = {}
    skipped = 0
    for path in paths:
        stem = fits_stem(path.name)
        with _open(path) as hdul:  # the headers stay readable once the file is closed
            images = _image_headers(hdul)
            primary = hdul[0].header
        if not images:
            raise DataError(f"{path}: no 2-D image HDU; a cutout file holds one image per band ({', '.join(channels)})"
                            " with the FILTER keyword")
        entries = []
        group = stem
        for index, header in images:
            band, per_band = _band_of(header, primary, stem, channels, len(images))
            if per_band is not None:
                group = per_band
            entries.append((band, index, header))
        if group != stem and entries[0][0] not in channels:  # a band file of a band the model does not take
            skipped += 1
            continue
        bands = groups.setdefault(group, {})
        sources.setdefault(group, []).append(path)
        for band, index, header in entries:
            if band is None or band not in channels:
                continue
            if band in bands:
                first = bands[band][0]
                raise DataError(f"cutout '{group}': band {band} twice ({first.name} HDU {bands[band][1]} and "
                                f"{path.name} HDU {index}); keep one image per band")
            bands[band] = (path, index, header, primary)
    if not groups:
        raise DataError(f"{directory}: none of its {len(paths)} FITS files holds a band {who} takes "
                        f"({', '.join(channels)})")
    s = config.size_px
    cutouts, ras, decs, shapes, files = [], [], [], [], []
    for gid in sorted(groups):
        bands = groups[gid]
        names = ", ".join(p.name for p in sources[gid])
        missing = [c for c in channels if c not in bands]
        if missing:
            have = sorted(bands) or "none"
            raise DataError(f"{names}: no {', '.join(missing)} image for cutout '{gid}' (bands found: {have}); "
                            f"{who} takes {', '.join(channels)}: give each cutout file one image HDU per band with "
                            "FILTER = <band>, or one file per band named <stem>_<FILTER>.fits")
        refs, shape, wcs0, seen = [], None, None, {}
        for c in channels:
            path, index, header, primary = bands[c]
            where = f"{path} (HDU {index}, {c})"
            this = (int(header["NAXIS2"]), int(header["NAXIS1"]))
            if shape is None:
                shape = this
            elif this != shape:
                raise DataError(f"{where}: {this[0]}×{this[1]} px but the cutout's {channels[0]} image is "
                                f"{shape[0]}×{shape[1]} px; all bands of a cutout must share one pixel grid")
            if min(this) < s:
                raise DataError(f"{where}: {this[0]}×{this[1]} px, smaller than the {s}×{s} px "
                                f"({config.size_arcsec:g}″) cutouts {who} takes; cut larger cutouts (larger ones "
                                "are centre-cropped)")
            cards = _wcs_cards(header)
            if cards not in seen:  # bands of one cutout share their WCS, typically: build and check it once
                seen[cards] = _wcs(header, where=where)
                if seen[cards] is not None:
                    _check_scale(seen[cards], config, where=where, who=who, fix="resample the cutouts")
            wcs0 = wcs0 or seen[cards]
            factor = unit_factor(_keyword(header, primary, "BUNIT") or "", config.unit, where=where)
            refs.append(_Band(path, index, factor))
        ny, nx = shape
        if wcs0 is not None:
            ra, dec = _radec(wcs0, np.array([(nx - s) // 2 + (s - 1) / 2.0]), np.array([(ny - s) // 2 + (s - 1) / 2.0]))
            ras.append(float(ra[0]))
            decs.append(float(dec[0]))
        else:
            ras.append(np.nan)
            decs.append(np.nan)
        cutouts.append(_Cutout(gid, tuple(refs), shape))
        shapes.append(shape)
        files.append(names)
    return CutoutDirectory(directory=directory, config=config, cutouts=cutouts,
                           ids=np.array([c.id for c in cutouts], dtype=str), ra=np.array(ras, float),
                           dec=np.array(decs, float), files=np.array(files, dtype=str),
                           shapes=np.array(shapes, dtype=np.int64).reshape(-1, 2), n_files=len(paths),
                           n_skipped=skipped)


# --------------------------------------------------------------------------------------------------------------
# Positions in large images
# --------------------------------------------------------------------------------------------------------------

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

    config: LensCatalogConfig
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


def open_positions(images: Sequence[str | Path], positions: str | Path, config: LensCatalogConfig, *,
                   who: str = "the model") -> PositionCutouts:
    """Open and check one large image per band and a positions table; locate every position in every image.

    Parameters
    ----------
    images : sequence of path
        One FITS image per band (any order), ``FILTER``, a celestial WCS
        (TAN typically; each band its own), ``BUNIT``.
    positions : path
        ``ra``, ``dec`` (deg, ICRS), optional ``id`` (see :func:`read_positions`).
    config : LensCatalogConfig
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
