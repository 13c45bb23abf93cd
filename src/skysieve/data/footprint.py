"""The observed footprint of survey maps: blank pixels, inverse-variance weights, edge distance, apodization.

Real survey maps are blank (NaN, or weight 0) outside the observed region and
deeper in some parts of it than in others; a per-band inverse-variance
weight map often comes with each band (noise rms ∝ 1/√weight).  The
*footprint* is the set of pixels observed in every band: finite in every
map and, where weights are given, of weight > 0 in every band.

Edge distance
    The Euclidean distance, in pixels, from a pixel centre to the nearest
    pixel centre outside the footprint, pixels beyond the map border counting
    as outside (:func:`scipy.ndimage.distance_transform_edt` of the footprint
    padded by one blank pixel).  A position's distance is that of its nearest
    pixel; times the pixel size it is the ``edge_dist_arcmin`` of a catalog.
Apodization
    A cosine taper of the footprint over ``apod_px`` pixels of edge distance::

        t(d) = sin²(π/2 · clip((d − ½) / apod_px, 0, 1))

    0 outside, rising to 1 at ``apod_px + ½`` pixels from the edge (the idea of
    pixell's ``enmap.apod_mask``, written here so its convention is explicit).
    The noise window (:attr:`Footprint.noise_window`) is the same taper moved
    one width inward: zero wherever the data are tapered, so noise spectra
    are estimated from the fully observed region only.
Periodic maps
    A map with no blank pixel in any band is taken as periodic — the
    simulated patches are — and has no edge: taper 1, edge distance +∞,
    exactly the behaviour of maps before footprints existed.  Mark the edges
    of a real cut-out by padding it with NaN.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skysieve.data.maps import SkyMaps, _read_one, _same_grid
from skysieve.errors import DataError

__all__ = ["Footprint", "cosine_taper", "edge_distance_px", "make_footprint", "read_weights"]


def edge_distance_px(mask: np.ndarray) -> np.ndarray:
    """Distance (pixels) of every pixel centre to the nearest pixel outside ``mask`` (the map border is outside).

    Parameters
    ----------
    mask : ndarray of shape (ny, nx), bool
        True on observed pixels.

    Returns
    -------
    ndarray of shape (ny, nx), float32
        0 outside the mask, ≥ 1 inside.
    """
    from scipy.ndimage import distance_transform_edt

    padded = np.pad(np.asarray(mask, bool), 1, constant_values=False)
    return distance_transform_edt(padded)[1:-1, 1:-1].astype(np.float32)


def cosine_taper(edge_px: np.ndarray, *, width_px: float, offset_px: float = 0.0) -> np.ndarray:
    """``sin²(π/2 · clip((d − ½ − offset) / width, 0, 1))`` of the edge distance ``d``, float32 (1 where width ≤ 0)."""
    d = np.asarray(edge_px, np.float32)
    if width_px <= 0:
        return (d - offset_px > 0).astype(np.float32)
    t = np.clip((d - 0.5 - offset_px) / width_px, 0.0, 1.0)
    return (np.sin(0.5 * np.pi * t) ** 2).astype(np.float32)


@dataclass(frozen=True)
class Footprint:
    """Where a set of band maps is observed, and how deep.

    Attributes
    ----------
    mask : ndarray of shape (ny, nx), bool
        Observed in every band.
    edge_px : ndarray of shape (ny, nx), float32
        Edge distance in pixels (+∞ everywhere for a periodic map).
    taper : ndarray of shape (ny, nx), float32
        The apodization, in [0, 1], 0 outside.
    noise_window : ndarray of shape (ny, nx), float32 or None
        Zero wherever ``taper < 1``; None for a periodic map.
    relative_weight : ndarray of shape (nband, ny, nx), float32 or None
        Weight over its median in the footprint, per band (0 outside); None without weight maps.
    periodic : bool
        No blank pixel: the map is its own periodic continuation and has no edge.
    pixel_arcmin : float
    """

    mask: np.ndarray
    edge_px: np.ndarray
    taper: np.ndarray
    noise_window: np.ndarray | None
    relative_weight: np.ndarray | None
    periodic: bool
    pixel_arcmin: float

    @property
    def fraction(self) -> float:
        """Fraction of the map's pixels observed."""
        return float(np.mean(self.mask))

    def edge_distance_arcmin(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Edge distance (arcmin) of pixel positions: that of their nearest pixel; 0 off the map or outside.

        Parameters
        ----------
        x, y : array_like of shape (n,)
            0-based pixel positions (pixel centres at integers).

        Returns
        -------
        ndarray of shape (n,), float64
            +∞ for a periodic map.
        """
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        if self.periodic:
            return np.full(x.shape, np.inf)
        ny, nx = self.mask.shape
        ix, iy = np.floor(x + 0.5).astype(np.int64), np.floor(y + 0.5).astype(np.int64)
        on = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        out = np.zeros(x.shape)
        out[on] = self.edge_px[iy[on], ix[on]] * self.pixel_arcmin
        return out

    def whiten(self, data: np.ndarray) -> np.ndarray:
        """Maps with uniform white-noise depth: ``(d − mean) · √(w / median w) · taper``, 0 outside (float32).

        The mean of each band is taken over the footprint.  Without weight
        maps the factor √(w / median w) is 1.  A periodic map comes back
        unchanged.
        """
        if self.periodic and self.relative_weight is None:
            return data
        out = np.where(self.mask, data, 0.0).astype(np.float32)
        n = max(int(self.mask.sum()), 1)
        out -= (out.sum(axis=(1, 2), dtype=np.float64) / n).astype(np.float32)[:, None, None]
        if self.relative_weight is not None:
            out *= np.sqrt(self.relative_weight)
        out *= self.taper
        return out

    def apodize(self, data: np.ndarray) -> np.ndarray:
        """``(d − mean) · taper``, 0 outside, float32 — maps at their own depth without blanks (the CNN's input)."""
        if self.periodic:
            return data
        out = np.where(self.mask, data, 0.0).astype(np.float32)
        n = max(int(self.mask.sum()), 1)
        out -= (out.sum(axis=(1, 2), dtype=np.float64) / n).astype(np.float32)[:, None, None]
        out *= self.taper
        return out

    def depth_factor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Band-mean √(w / median w) at pixel positions (1 without weights): what :meth:`whiten` multiplied by."""
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        if self.relative_weight is None:
            return np.ones(x.shape)
        ny, nx = self.mask.shape
        ix = np.clip(np.floor(x + 0.5).astype(np.int64), 0, nx - 1)
        iy = np.clip(np.floor(y + 0.5).astype(np.int64), 0, ny - 1)
        return np.sqrt(self.relative_weight[:, iy, ix]).mean(axis=0).astype(float)


def read_weights(paths: Sequence[str | Path], maps: SkyMaps) -> np.ndarray:
    """Read one inverse-variance weight map per band, in the order of ``maps.paths``, and check each against its band.

    NaN weights count as 0 (unobserved).

    Returns
    -------
    ndarray of shape (nband, ny, nx), float32

    Raises
    ------
    DataError
        A count other than the number of maps; a missing or unreadable file;
        a weight map whose shape or WCS differs from its band's; negative or
        infinite weights; a weight map with no pixel > 0.  The message names
        the file and its band.
    """
    paths = [Path(p) for p in paths]
    if len(paths) != len(maps.paths):
        raise DataError(f"--weights gave {len(paths)} weight maps for {len(maps.paths)} band maps; pass one per band, "
                        f"in the order of --maps ({', '.join(str(p) for p in maps.paths)})")
    from astropy.wcs import WCS

    out = np.empty(maps.data.shape, np.float32)
    for i, (path, band_path) in enumerate(zip(paths, maps.paths)):
        data, header = _read_one(path)
        if data.shape != maps.data.shape[1:]:
            raise DataError(f"{path}: weight map of shape {data.shape} but its band {band_path} has shape "
                            f"{maps.data.shape[1:]}; a weight map must share its band's pixel grid")
        try:
            wcs = WCS(header, naxis=2)
        except Exception as exc:
            raise DataError(f"{path}: invalid WCS ({exc})") from exc
        if not wcs.has_celestial or not _same_grid(maps.wcs, wcs):
            raise DataError(f"{path}: WCS (projection, reference pixel or pixel size) differs from its band "
                            f"{band_path}; a weight map must share its band's pixel grid")
        data = np.where(np.isnan(data), 0.0, data)
        if np.isinf(data).any() or (data < 0).any():
            raise DataError(f"{path}: negative or infinite weights; an inverse-variance weight is ≥ 0 and finite "
                            "(is it a band map? give --maps before --weights)")
        if not (data > 0).any():
            raise DataError(f"{path}: no pixel of weight > 0 (no valid pixel in the footprint of {band_path})")
        out[i] = data
    return out


def make_footprint(maps: SkyMaps, *, weights: np.ndarray | None = None, apod_arcmin: float = 5.0) -> Footprint:
    """The footprint of ``maps`` (observed in every band), its edge distance, taper and relative depth.

    Parameters
    ----------
    maps : SkyMaps
        Band maps; NaN marks unobserved pixels.
    weights : ndarray of shape (nband, ny, nx), optional
        Inverse-variance weights in the bands' order (:func:`read_weights`); 0 marks unobserved pixels.
    apod_arcmin : float, keyword-only
        Width of the cosine taper (arcmin).

    Returns
    -------
    Footprint

    Raises
    ------
    DataError
        A band with no finite pixel (naming its file), or bands whose observed regions do not overlap.
    """
    valid = np.isfinite(maps.data)
    for i, path in enumerate(maps.paths or range(len(maps.data))):
        if not valid[i].any():
            raise DataError(f"{path}: no finite pixel (the map is entirely NaN); nothing to search")
    mask = valid.all(axis=0)
    if weights is not None:
        mask &= (weights > 0).all(axis=0)
    if not mask.any():
        names = ", ".join(str(p) for p in maps.paths)
        raise DataError(f"maps {names}: the footprint (finite in every band, weight > 0) has no valid pixel; "
                        "the bands' observed regions or weight maps do not overlap")
    pixel = maps.pixel_arcmin
    rel = None
    if weights is not None:
        med = np.array([np.median(w[mask]) for w in weights], np.float32)
        rel = np.where(mask, weights / med[:, None, None], 0.0).astype(np.float32)
    if mask.all():
        ones = np.ones(mask.shape, np.float32)
        return Footprint(mask, np.full(mask.shape, np.inf, np.float32), ones, None, rel, True, pixel)
    edge = edge_distance_px(mask)
    width = apod_arcmin / pixel
    return Footprint(mask, edge, cosine_taper(edge, width_px=width), cosine_taper(edge, width_px=width,
                                                                                   offset_px=width),
                     rel, False, pixel)
