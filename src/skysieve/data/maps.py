"""Multi-band FITS maps: the map contract of DESIGN.md, read and written safely.

A map file holds one band: a 2-D image with a celestial WCS (CAR or TAN),
``FREQ`` in GHz (or ``FILTER`` for optical bands) and ``BUNIT``.  Reading
validates at the boundary so the core can trust its inputs.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skysieve._io import atomic_path
from skysieve.errors import DataError

__all__ = ["SkyMaps", "band_name", "read_maps", "write_map"]


@dataclass(frozen=True)
class SkyMaps:
    """Co-registered band maps.

    Attributes
    ----------
    data : ndarray of shape (nband, ny, nx), float32
        Pixel values in ``unit``.
    wcs : astropy.wcs.WCS
        The celestial WCS shared by every band.
    bands : tuple of str
        Band names, e.g. ``("90GHz", "148GHz", "219GHz")`` or filter names.
    freqs_ghz : tuple of float or None
        Frequencies where the maps carry ``FREQ``.
    unit : str
        ``BUNIT`` (e.g. ``uK_CMB``).
    paths : tuple of Path
        The files read.
    """

    data: np.ndarray
    wcs: WCS
    bands: tuple[str, ...]
    freqs_ghz: tuple[float, ...] | None
    unit: str
    paths: tuple[Path, ...] = field(default=())

    @property
    def pixel_arcmin(self) -> float:
        """Side of a (square) pixel in arcmin, from the WCS pixel-scale matrix."""
        return float(np.sqrt(abs(np.linalg.det(self.wcs.pixel_scale_matrix))) * 60.0)


def band_name(freq_ghz: float) -> str:
    """The canonical name of a frequency band, e.g. ``90GHz``."""
    return f"{freq_ghz:g}GHz"


def write_map(path: str | Path, image: np.ndarray, wcs: WCS, *, freq_ghz: float, bunit: str = "uK_CMB",
              extra: dict | None = None) -> Path:
    """Write one band to ``path`` atomically, with ``FREQ`` (GHz) and ``BUNIT`` in the header."""
    header = wcs.to_header()
    header["FREQ"] = (float(freq_ghz), "band centre [GHz]")
    header["BUNIT"] = (bunit, "pixel unit")
    for key, value in (extra or {}).items():
        header[key] = value
    with atomic_path(path) as tmp:
        fits.PrimaryHDU(np.asarray(image, dtype=np.float32), header=header).writeto(tmp)
    return Path(path)


def _read_one(path: Path) -> tuple[np.ndarray, fits.Header]:
    if not path.is_file():
        raise DataError(f"{path}: map file not found")
    try:
        with fits.open(path, memmap=False) as hdul:
            hdul.verify("exception")
            hdu = next((h for h in hdul if h.data is not None and h.is_image), None)
            if hdu is None:
                raise DataError(f"{path}: no image HDU; expected a 2-D map per band")
            data = np.asarray(hdu.data, dtype=np.float32)
            header = hdu.header.copy()
    except DataError:
        raise
    except Exception as exc:  # astropy raises OSError, VerifyError, TypeError… on damage
        raise DataError(f"{path}: not a readable FITS file ({exc.__class__.__name__}: {exc}); "
                        "re-download or regenerate it") from exc
    if data.ndim != 2:
        raise DataError(f"{path}: expected a 2-D image, got shape {data.shape}")
    return data, header


def read_maps(paths: list[str | Path] | tuple[str | Path, ...], *, require_freq: bool = True,
              allow_nan: bool = False) -> SkyMaps:
    """Read and cross-check one FITS map per band.

    With ``allow_nan`` NaN pixels are kept: they mark the unobserved sky of a
    survey map (:mod:`skysieve.data.footprint`); a map with no finite pixel
    is still refused.

    Raises
    ------
    DataError
        For a missing, truncated or corrupt file; an image without a celestial
        WCS; NaN (unless ``allow_nan``) or infinite pixels; a map that is entirely NaN; a band without ``FREQ`` (when
        ``require_freq``); bands whose shapes, WCS or units disagree; or a
        frequency that appears twice.  The message names the file.
    """
    paths = tuple(Path(p) for p in paths)
    if not paths:
        raise DataError("no maps given; pass one FITS file per band")
    images, bands, freqs, units = [], [], [], []
    ref_wcs, ref_path = None, None
    for path in paths:
        data, header = _read_one(path)
        try:
            wcs = WCS(header, naxis=2)
        except Exception as exc:
            raise DataError(f"{path}: invalid WCS ({exc})") from exc
        if not wcs.has_celestial:
            raise DataError(f"{path}: no celestial WCS (need RA/DEC axes, e.g. CTYPE1='RA---CAR')")
        n_nan = int(np.count_nonzero(np.isnan(data)))
        n_inf = int(np.count_nonzero(np.isinf(data)))
        if n_nan == data.size:
            raise DataError(f"{path}: the map is entirely NaN (no valid pixel); nothing to read")
        if n_inf or (n_nan and not allow_nan):
            raise DataError(f"{path}: {n_nan + n_inf} NaN or infinite pixels; fill or mask them before use"
                            + ("" if n_inf else " (survey maps with a footprint: skysieve catalog reads them)"))
        if "FREQ" in header:
            freqs.append(float(header["FREQ"]))
            bands.append(band_name(float(header["FREQ"])))
        elif require_freq:
            raise DataError(f"{path}: header has no FREQ (band centre in GHz); add it, e.g. FREQ = 148")
        elif "FILTER" in header:
            bands.append(str(header["FILTER"]))
        else:
            raise DataError(f"{path}: header has neither FREQ nor FILTER; name the band")
        units.append(str(header.get("BUNIT", "")))
        if ref_wcs is None:
            ref_wcs, ref_path = wcs, path
        else:
            if data.shape != images[0].shape:
                raise DataError(f"{path}: shape {data.shape} differs from {ref_path} {images[0].shape}; "
                                "all bands must share one pixel grid")
            if not _same_grid(ref_wcs, wcs):
                raise DataError(f"{path}: WCS (projection, reference pixel or pixel size) differs from "
                                f"{ref_path}; reproject all bands onto one grid")
        images.append(data)
    if len(set(bands)) != len(bands):
        raise DataError(f"band given twice among {[str(p) for p in paths]}: {bands}")
    if len(set(units)) > 1:
        raise DataError(f"maps have different BUNIT values {units}; convert them to one unit")
    return SkyMaps(
        data=np.stack(images),
        wcs=ref_wcs.celestial,
        bands=tuple(bands),
        freqs_ghz=tuple(freqs) if len(freqs) == len(paths) else None,
        unit=units[0],
        paths=paths,
    )


def _same_grid(a: WCS, b: WCS, *, rtol: float = 1e-6) -> bool:
    wa, wb = a.celestial.wcs, b.celestial.wcs
    return (
        list(wa.ctype) == list(wb.ctype)
        and np.allclose(wa.crpix, wb.crpix, rtol=rtol, atol=1e-6)
        and np.allclose(wa.crval, wb.crval, rtol=rtol, atol=1e-9)
        and np.allclose(a.celestial.pixel_scale_matrix, b.celestial.pixel_scale_matrix, rtol=rtol, atol=1e-12)
    )
