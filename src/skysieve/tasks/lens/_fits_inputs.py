"""The engine's FITS checks of catalog inputs (:mod:`skysieve.catalog._fits_checks`), under the names lens uses."""

from skysieve.catalog._fits_checks import (  # noqa: F401 - re-exported for the lens modules
    FITS_SUFFIXES,
    PIXEL_RTOL,
    _check_scale,
    _filter_name,
    _image_headers,
    _keyword,
    _open,
    _radec,
    _sha256,
    _wcs,
    _wcs_cards,
    combined_sha256,
    fits_stem,
    unit_factor,
)

__all__ = ["FITS_SUFFIXES", "PIXEL_RTOL", "combined_sha256", "fits_stem", "unit_factor"]
