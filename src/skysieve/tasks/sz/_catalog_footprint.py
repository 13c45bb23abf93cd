"""The footprint's part in the SZ catalog: which tiles are scored, and each candidate's distance to the edge."""

import numpy as np
from astropy.table import Table

from skysieve.catalog import TileGrid
from skysieve.data.footprint import Footprint
from skysieve.data.maps import SkyMaps
from skysieve.ensemble import METHODS

__all__ = ["cnn_input", "edge_columns", "observed_tiles"]


def observed_tiles(grid: TileGrid, footprint: Footprint) -> np.ndarray | None:
    """Ids of the tiles whose central region holds an observed pixel (None: all, for a periodic map)."""
    if footprint.periodic:
        return None
    m, c = grid.margin_px, grid.central_px
    s = np.zeros((footprint.mask.shape[0] + 1, footprint.mask.shape[1] + 1), np.int64)
    s[1:, 1:] = footprint.mask.cumsum(axis=0).cumsum(axis=1)
    ya, xa = grid.y0[:, None] + m, grid.x0[None, :] + m
    count = s[ya + c, xa + c] - s[ya, xa + c] - s[ya + c, xa] + s[ya, xa]
    return np.flatnonzero(count.ravel() > 0)


def edge_columns(table: Table, footprint: Footprint, *, margin_arcmin: float) -> Table:
    """Add ``edge_dist_arcmin`` and ``edge_flag``; drop rows outside the footprint; flagged rows decide nothing."""
    dist = footprint.edge_distance_arcmin(np.asarray(table["x"], float), np.asarray(table["y"], float))
    table = table[dist > 0] if len(table) else table
    dist = dist[dist > 0] if dist.size else dist
    table["edge_dist_arcmin"] = dist
    table["edge_dist_arcmin"].unit = "arcmin"
    table["edge_flag"] = dist < margin_arcmin
    for m in METHODS:
        table[f"decision_{m}"] = np.asarray(table[f"decision_{m}"], bool) & ~np.asarray(table["edge_flag"], bool)
    table["id"] = np.arange(len(table), dtype=np.int64)
    return table


def cnn_input(maps: SkyMaps, footprint: Footprint, *, scan_noise: bool, ell_bin_width: float,
              smooth_fraction: float, max_px: int) -> np.ndarray:
    """The maps the CNN's tiles are cut from: whitened and apodized, 0 outside, and destriped.

    With ``scan_noise`` the scan stripes are taken out as well
    (:func:`~skysieve.mf.destripe`, estimated in the fully observed region),
    so the CNN — trained on maps without stripes — sees noise like its
    training data; on maps larger than ``max_px`` a side (filtered in blocks)
    this whole-map step is skipped to keep memory flat.

    Returns
    -------
    ndarray of shape (nband, ny, nx), float32
    """
    data = footprint.whiten(maps.data)
    if not scan_noise or max(data.shape[-2:]) > max_px:
        return data
    from skysieve.mf import MapNoise, ScanNoise, destripe

    noise = ScanNoise(MapNoise(ell_bin_width=ell_bin_width, smooth_fraction=smooth_fraction))
    out = destripe(data, wcs=maps.wcs, noise=noise, window=footprint.noise_window)
    if not footprint.periodic:
        out *= footprint.mask
    return out
