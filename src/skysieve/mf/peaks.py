"""Peak finding in a stack of SNR maps (DeepSZ §2.1, after SPT).

At each scale, pixels above the threshold that touch (8-connectivity) form a
group; its SNR is its highest pixel and its position the SNR-weighted mean of
the positions of its *core*, the pixels with SNR ≥ ``core_fraction`` × its
peak.  Groups of different scales that overlap belong to one object — the
objects are the connected regions of pixels above the threshold at *any*
scale — and each object keeps its group of highest SNR, with that group's
position and scale.

DeepSZ weights every pixel of the group.  With ``core_fraction = 0.5`` that is
unchanged for groups whose peak is below twice the threshold (most
detections); for bright clusters, whose groups spread over hundreds of
pixels, it keeps the noisy rim, where SNR ≈ threshold, from pulling the
position about (at SNR ≈ 30 the full-group mean strays 1.4 px on average,
the core mean 0.6 px).  ``core_fraction = 0`` gives DeepSZ's rule exactly.
"""

import numpy as np
import scipy.sparse
from astropy.table import Table
from astropy.wcs import WCS
from scipy.sparse.csgraph import connected_components

__all__ = ["detection_catalog", "find_peaks"]

def _label_pixels(lin: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """8-connected components of a sparse set of pixels.

    Parameters
    ----------
    lin : ndarray of shape (n,), int
        Sorted, unique linear indices ``y · nx + x`` of the pixels.
    shape : (ny, nx)

    Returns
    -------
    labels : ndarray of shape (n,), int
        Component of each pixel, 0 … ncomp − 1.
    ncomp : int
    """
    n = lin.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    ny, nx = shape
    y, x = np.divmod(lin, nx)
    rows, cols = [], []
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):  # half the neighbours: the graph is undirected
        ty, tx = y + dy, x + dx
        target = ty * nx + tx
        at = np.minimum(np.searchsorted(lin, target), n - 1)
        hit = (ty < ny) & (tx >= 0) & (tx < nx) & (lin[at] == target)
        rows.append(np.flatnonzero(hit))
        cols.append(at[hit])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = scipy.sparse.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    ncomp, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64), int(ncomp)


def find_peaks(snr_maps: np.ndarray, *, threshold: float, core_fraction: float = 0.5) -> Table:
    """Detections in a stack of SNR maps, one per object, best scale kept.

    Parameters
    ----------
    snr_maps : ndarray of shape (nscale, ny, nx) or (ny, nx)
        SNR maps (any stack of maps whose positive excursions are sought).
    threshold : float
        Pixels with ``snr > threshold`` form groups.
    core_fraction : float
        A group's position is the SNR-weighted mean over its pixels with
        ``snr ≥ core_fraction × peak`` (0: all its pixels).

    Returns
    -------
    Table
        One row per object, by decreasing ``snr``: ``x``, ``y`` (SNR-weighted
        centroid of the best group's core, pixels, pixel centres at integers),
        ``x_peak``, ``y_peak`` (its brightest pixel), ``snr`` (its highest
        value), ``scale`` (index of the best map) and ``npix`` (its size).
    """
    snr_maps = np.asarray(snr_maps)
    if snr_maps.ndim == 2:
        snr_maps = snr_maps[None]
    shape = snr_maps.shape[-2:]
    above = [np.flatnonzero(snr > threshold) for snr in snr_maps]  # linear pixel indices, sorted
    union = np.unique(np.concatenate(above)) if above else np.zeros(0, np.int64)
    objects, n_obj = _label_pixels(union, shape)
    best = {name: np.full(n_obj, np.nan) for name in ("snr", "x", "y", "x_peak", "y_peak", "npix")}
    best["snr"][:] = -np.inf
    scale = np.full(n_obj, -1, dtype=np.int64)
    for s, lin in enumerate(above):
        if lin.size == 0:
            continue
        lab, n = _label_pixels(lin, shape)
        py, px = np.divmod(lin, shape[1])
        val = snr_maps[s].ravel()[lin].astype(np.float64)
        top = np.lexsort((-val, lab))  # by group, brightest first
        first_pix = top[np.flatnonzero(np.diff(lab[top], prepend=-1))]
        peak = val[first_pix]
        pos = np.stack([py[first_pix], px[first_pix]], axis=1).astype(np.int64)
        w = np.where(val >= core_fraction * peak[lab], val, 0.0)
        wsum = np.bincount(lab, weights=w, minlength=n)
        com = np.stack([np.bincount(lab, weights=w * py, minlength=n),
                        np.bincount(lab, weights=w * px, minlength=n)], axis=1) / wsum[:, None]
        npix = np.bincount(lab, minlength=n)
        obj = objects[np.searchsorted(union, lin[first_pix])]
        # Several groups of this scale may fall in one object: keep the best of them.
        order = np.argsort(-peak, kind="stable")
        first = order[np.unique(obj[order], return_index=True)[1]]
        obj, peak, pos, com, npix = obj[first], peak[first], pos[first], com[first], npix[first]
        better = peak > best["snr"][obj]
        o = obj[better]
        best["snr"][o] = peak[better]
        best["y"][o], best["x"][o] = com[better, 0], com[better, 1]
        best["y_peak"][o], best["x_peak"][o] = pos[better, 0], pos[better, 1]
        best["npix"][o] = npix[better]
        scale[o] = s
    order = np.argsort(-best["snr"], kind="stable")
    return Table({
        "x": best["x"][order], "y": best["y"][order],
        "x_peak": best["x_peak"][order].astype(np.int64), "y_peak": best["y_peak"][order].astype(np.int64),
        "snr": best["snr"][order], "scale": scale[order], "npix": best["npix"][order].astype(np.int64),
    })


def detection_catalog(peaks: Table, *, wcs: WCS, theta_c_arcmin: np.ndarray, sigma_arcmin2: np.ndarray) -> Table:
    """Turn pixel peaks from :func:`find_peaks` into a cluster detection catalog.

    Parameters
    ----------
    peaks : Table
        From :func:`find_peaks` on matched-filter SNR maps.
    wcs : astropy.wcs.WCS
        Celestial WCS of the maps.
    theta_c_arcmin : ndarray of shape (nscale,)
        Core radius of each scale, arcmin.
    sigma_arcmin2 : ndarray of shape (nscale,)
        Noise rms of the Y estimate at each scale, arcmin².

    Returns
    -------
    Table
        ``ra``, ``dec`` (deg), ``snr``, ``theta_c_arcmin`` (best scale),
        ``y_arcmin2`` (``snr · σ``, the integrated-Y estimate at the peak),
        ``scale``, ``x``, ``y`` (pixels) and ``npix``.
    """
    scale = np.asarray(peaks["scale"], dtype=np.int64)
    ra, dec = wcs.celestial.pixel_to_world_values(np.asarray(peaks["x"], float), np.asarray(peaks["y"], float))
    out = Table()
    out["ra"] = np.asarray(ra, float) % 360.0
    out["dec"] = np.asarray(dec, float)
    out["snr"] = np.asarray(peaks["snr"], float)
    out["theta_c_arcmin"] = np.asarray(theta_c_arcmin, float)[scale] if len(scale) else np.zeros(0)
    out["y_arcmin2"] = out["snr"] * (np.asarray(sigma_arcmin2, float)[scale] if len(scale) else np.zeros(0))
    out["scale"] = scale
    out["x"] = np.asarray(peaks["x"], float)
    out["y"] = np.asarray(peaks["y"], float)
    out["npix"] = np.asarray(peaks["npix"], np.int64)
    out["ra"].unit = out["dec"].unit = "deg"
    out["theta_c_arcmin"].unit = "arcmin"
    out["y_arcmin2"].unit = "arcmin2"
    return out
