"""The images a gallery cuts its thumbnails from: FITS images with a celestial WCS, one band each.

Each image is opened memory-mapped (its first 2-D image HDU); its band is
named by ``FILTER`` (optical; HST/ACS's ``FILTER1``/``FILTER2``), ``FREQ``
(GHz, millimetre maps) or the file name.  :func:`cut` cuts a square at a
row's (RA, Dec) with :class:`astropy.nddata.Cutout2D` (mode ``partial``, NaN outside the image), or
returns ``None`` when the position is off the image.
"""

import re
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skysieve.errors import DataError

__all__ = ["GalleryImage", "cut", "open_images", "wavelength_nm"]

#: Effective wavelengths (nm) of common broad bands, for ordering optical bands blue to red.
_LETTER_NM = {"u": 355.0, "g": 469.0, "r": 617.0, "i": 748.0, "z": 893.0, "y": 1005.0, "j": 1250.0,
              "h": 1650.0, "k": 2200.0, "ks": 2150.0}
#: HST/JWST-style filter names: F435W, F814W, F160W (F1xx of WFC3/IR in units of 10 nm), F200W (JWST, µm × 100).
_HST = re.compile(r"^F(\d{3,4})[A-Z]{1,2}$", re.IGNORECASE)


def wavelength_nm(band: str) -> float | None:
    """The approximate central wavelength (nm) of an optical/IR band name, or ``None`` when unknown.

    ``g``, ``r``, ``i``… (SDSS/LSST letters, also ``HSC-G`` or ``SDSS_r``),
    and HST names ``F<nnn>W``: ``F435W`` → 435 nm, ``F814W`` → 814 nm; WFC3/IR's
    ``F105W``–``F160W`` are 1050–1600 nm (three digits below 200 and above 100
    are tens of nm).
    """
    name = band.strip()
    match = _HST.match(name)
    if match:
        value = float(match[1])
        return value * 10.0 if 100 <= value < 200 else value
    tail = re.split(r"[-_ .]", name.lower())[-1]
    return _LETTER_NM.get(tail)


@dataclass(frozen=True)
class GalleryImage:
    """One band image.

    Attributes
    ----------
    path : Path
    data : ndarray of shape (ny, nx)
        Memory-mapped pixels.
    wcs : astropy.wcs.WCS
        Its celestial WCS.
    band : str
        ``FILTER``, else ``<FREQ> GHz``, else the file stem.
    freq_ghz : float or None
        ``FREQ`` where the header has it.
    unit : str
        ``BUNIT`` (may be empty).
    """

    path: Path
    data: np.ndarray
    wcs: WCS
    band: str
    freq_ghz: float | None
    unit: str


def _first_image(hdul: fits.HDUList, path: Path) -> tuple[fits.ImageHDU, fits.Header]:
    for hdu in hdul:
        if hdu.is_image and hdu.header.get("NAXIS", 0) == 2:
            return hdu, hdul[0].header
    raise DataError(f"{path}: no 2-D image HDU; a gallery image is one FITS image per band with a celestial WCS")


def _filter(header: fits.Header, primary: fits.Header) -> str | None:
    """``FILTER``, else the one of HST/ACS's ``FILTER1``/``FILTER2`` that is not ``CLEAR…``; in the HDU or the primary."""
    for h in (header, primary):
        if str(h.get("FILTER") or "").strip():
            return str(h["FILTER"]).strip()
        named = [str(h[k]).strip() for k in ("FILTER1", "FILTER2") if str(h.get(k) or "").strip()]
        named = [f for f in named if not f.upper().startswith("CLEAR")]
        if len(named) == 1:
            return named[0]
    return None


def open_images(paths: Sequence[str | Path], stack: ExitStack) -> list[GalleryImage]:
    """Open every image (memory-mapped, closed with ``stack``) and check its WCS.

    Raises
    ------
    DataError
        A missing or unreadable file, no 2-D image HDU, or no celestial WCS
        (``CTYPE1/2`` RA/DEC), naming the file and the fix.
    """
    out = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise DataError(f"{path}: image not found; --images takes FITS images (one per band) with a celestial WCS")
        try:
            hdul = stack.enter_context(fits.open(path, memmap=True, lazy_load_hdus=False))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable FITS file ({exc})") from None
        hdu, primary = _first_image(hdul, path)
        header = hdu.header
        try:
            wcs = WCS(header, naxis=2)
        except Exception as exc:  # noqa: BLE001 - astropy raises many kinds on a bad WCS
            raise DataError(f"{path}: invalid WCS ({exc}); give images with a celestial WCS") from None
        if not wcs.has_celestial:
            raise DataError(f"{path}: no celestial WCS (CTYPE1/CTYPE2 RA---…/DEC--…); a gallery cuts its "
                            "thumbnails at each row's ra/dec, so every image needs one")
        freq = header.get("FREQ", primary.get("FREQ"))
        filt = _filter(header, primary)
        if filt is not None:
            band = str(filt).strip()
        elif freq is not None:
            band = f"{float(freq):g} GHz"
        else:
            band = path.name.split(".")[0]
        out.append(GalleryImage(path=path, data=hdu.data, wcs=wcs, band=band,
                                freq_ghz=None if freq is None or filt is not None else float(freq),
                                unit=str(header.get("BUNIT", primary.get("BUNIT", ""))).strip()))
    return out


def cut(image: GalleryImage, *, ra_deg: float, dec_deg: float, size_px: int) -> np.ndarray | None:
    """The ``size_px`` square of ``image`` centred on (RA, Dec), NaN where it leaves the image; ``None`` off it."""
    from astropy.nddata import Cutout2D
    from astropy.nddata.utils import NoOverlapError

    if not (np.isfinite(ra_deg) and np.isfinite(dec_deg)):
        return None
    x, y = (float(v) for v in image.wcs.world_to_pixel_values(ra_deg, dec_deg))
    ny, nx = image.data.shape
    if not (np.isfinite(x) and np.isfinite(y)) or not (-0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5):
        return None
    try:
        piece = Cutout2D(image.data, (x, y), (size_px, size_px), mode="partial", fill_value=np.nan, copy=True)
    except NoOverlapError:
        return None
    return np.asarray(piece.data, dtype=np.float32)
