"""FITS checks of catalog inputs (cutout files, large band images): names, bands, pixel scale, ``BUNIT``, WCS, checksums.

What a model expects of its inputs is a :class:`CutoutSpec` (or any object
with the same attributes, such as a search's stored catalog config).
"""


import functools
import hashlib
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from skysieve.errors import DataError

__all__ = ["FITS_SUFFIXES", "PIXEL_RTOL", "CutoutSpec", "combined_sha256", "fits_stem", "unit_factor"]

#: File name endings read as FITS (each optionally followed by ``.gz``).
FITS_SUFFIXES = (".fits", ".fit", ".fts")
#: Largest relative difference between an input's pixel scale and the model's.
PIXEL_RTOL = 0.01
_IMAGE_HDUS = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)


class InputSpec(Protocol):
    """What the checks read of a model's expectations (:class:`CutoutSpec` has it)."""

    channels: Sequence[str]
    size_px: int
    pixel_arcsec: float
    unit: str


@dataclass(frozen=True)
class CutoutSpec:
    """The cutouts a model takes: its bands in channel order, cutout side, pixel scale and pixel unit.

    Attributes
    ----------
    channels : tuple of str
        Band names (``FILTER`` values), in the model's channel order.
    size_px : int
        Cutout side, pixels.
    pixel_arcsec : float
        Pixel side, arcsec (inputs within :data:`PIXEL_RTOL` are accepted).
    unit : str
        Pixel unit, an astropy unit string (``electron/s``).
    """

    channels: tuple[str, ...]
    size_px: int
    pixel_arcsec: float
    unit: str


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


def _check_scale(wcs: WCS, config: InputSpec, *, where: str, who: str, fix: str) -> None:
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
    """Open a FITS file with every HDU's header read; a damaged or truncated file is a :class:`DataError`.

    Astropy reads a truncated file's headers as far as they go and only warns
    ("File may have been truncated"), so the missing HDUs would look like
    missing bands; the warning is turned into the error here.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hdul = fits.open(path, memmap=memmap)
            hdul.readall()  # the headers only; the data stay unread (or memory-mapped)
    except Exception as exc:  # astropy raises OSError, VerifyError, TypeError… on damage
        raise DataError(f"{path}: not a readable FITS file ({exc.__class__.__name__}: {exc}); re-download or "
                        "regenerate it") from exc
    truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
    if truncated:
        hdul.close()
        raise DataError(f"{path}: truncated ({truncated[0]}); re-download or regenerate it")
    for w in caught:  # anything else astropy had to say, as it would have said it
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return hdul


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


def _band_of(header: fits.Header, primary: fits.Header, stem: str, channels: Sequence[str],
             n_images: int) -> tuple[str | None, str | None]:
    """(band, group id if a band file ``<stem>_<FILTER>``) of an image HDU of a cutout file named ``stem``.

    An HDU's own ``FILTER`` (or ACS's ``FILTER1``/``FILTER2``) names its band;
    a file's single image HDU may inherit it from the primary header, or,
    without one, be named by the file: ``<group>_<band>.fits``.
    """
    band = _filter_name(header, primary, channels, inherit=n_images == 1)
    if n_images != 1:
        return band, None
    names = [band] if band else list(channels)
    for name in names:
        if stem.lower().endswith("_" + name.lower()) and len(stem) > len(name) + 1:
            return name, stem[: -len(name) - 1]
    return band, None


def _sha256(path: Path) -> str:
    from skysieve.catalog._write import file_sha256

    return file_sha256(path)
