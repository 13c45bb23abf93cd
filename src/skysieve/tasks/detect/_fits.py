"""FITS fields of the ``detect`` search: one image per band with a celestial TAN WCS, read back with checks."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skysieve.errors import DataError

__all__ = ["BandImages", "field_wcs", "read_bands", "write_band"]


def field_wcs(*, ra_deg: float, dec_deg: float, size_px: int, pixel_arcsec: float) -> WCS:
    """A TAN WCS centred on (ra, dec), north up, east left, ``pixel_arcsec`` square pixels."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra_deg, dec_deg]
    w.wcs.crpix = [(size_px + 1) / 2.0, (size_px + 1) / 2.0]
    w.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    return w


def write_band(path: Path, image: np.ndarray, *, wcs: WCS, band: str, sigma_nmgy: float, psf_fwhm_arcsec: float
               ) -> None:
    """Write one band image (nanomaggies per pixel) with its WCS and ``FILTER``, ``BUNIT``, ``SKYSIG``, ``PSF_FWHM``."""
    header = wcs.to_header()
    header["FILTER"] = (band, "SDSS-like band")
    header["BUNIT"] = ("nanomaggy", "per pixel; m = 22.5 - 2.5 log10(f)")
    header["SKYSIG"] = (float(sigma_nmgy), "sky noise per pixel, nanomaggy")
    header["PSF_FWHM"] = (float(psf_fwhm_arcsec), "Moffat PSF FWHM, arcsec")
    fits.PrimaryHDU(np.asarray(image, dtype=np.float32), header=header).writeto(path, overwrite=True)


@dataclass
class BandImages:
    """Co-registered band images of one field.

    Attributes
    ----------
    data : ndarray of shape (ny, nx, nband), float32 (NaN where unobserved)
    bands : tuple of str
    wcs : astropy.wcs.WCS
    pixel_arcsec : float
    paths : tuple of Path
    """

    data: np.ndarray
    bands: tuple[str, ...]
    wcs: WCS
    pixel_arcsec: float
    paths: tuple[Path, ...]


def read_bands(paths: list[Path] | tuple[Path, ...], *, bands: tuple[str, ...]) -> BandImages:
    """Read one FITS image per band, in the order of ``bands`` (matched by each file's ``FILTER``).

    Raises
    ------
    DataError
        A file is missing or unreadable, has no 2-d image or no celestial
        WCS, a band of ``bands`` is missing (or given twice), or the images'
        shapes or WCSs differ.
    """
    found: dict[str, tuple[Path, np.ndarray, WCS]] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise DataError(f"{path}: not found; give one FITS image per band ({', '.join(bands)})")
        try:
            with fits.open(path) as hdul:
                hdu = next((h for h in hdul if h.data is not None and np.ndim(h.data) == 2), None)
                if hdu is None:
                    raise DataError(f"{path}: no 2-d image HDU; give a FITS image per band")
                data, header = np.asarray(hdu.data, dtype=np.float32), hdu.header
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{path}: unreadable FITS ({exc})") from exc
        wcs = WCS(header).celestial
        if not wcs.has_celestial or wcs.naxis != 2:
            raise DataError(f"{path}: no celestial WCS (CTYPE RA---TAN/DEC--TAN…); the catalog needs sky positions")
        band = str(header.get("FILTER", "")).strip()
        if band not in bands:
            raise DataError(f"{path}: FILTER = {band!r} is not one of the model's bands {list(bands)}; set the "
                            "header keyword FILTER")
        if band in found:
            raise DataError(f"{path}: band {band} given twice (also {found[band][0]})")
        found[band] = (path, data, wcs)
    missing = [b for b in bands if b not in found]
    if missing:
        raise DataError(f"missing band(s) {missing}: the model needs {list(bands)}; give one FITS image per band")
    ref_path, ref, ref_wcs = found[bands[0]]
    for b in bands[1:]:
        path, data, wcs = found[b]
        if data.shape != ref.shape:
            raise DataError(f"{path}: shape {data.shape} differs from {ref_path}'s {ref.shape}; the bands must be "
                            "co-registered on one pixel grid")
        same = (np.allclose(wcs.wcs.crval, ref_wcs.wcs.crval) and np.allclose(wcs.wcs.crpix, ref_wcs.wcs.crpix)
                and np.allclose(wcs.pixel_scale_matrix, ref_wcs.pixel_scale_matrix))
        if not same:
            raise DataError(f"{path}: WCS differs from {ref_path}'s; resample the bands onto one pixel grid")
    scale = float(np.sqrt(abs(np.linalg.det(ref_wcs.pixel_scale_matrix))) * 3600.0)
    stack = np.stack([found[b][1] for b in bands], axis=-1)
    return BandImages(stack, tuple(bands), ref_wcs, scale, tuple(found[b][0] for b in bands))
