"""Overlapping tiles over a map, streamed in batches.

A tile is a ``size_px`` square cutout; its central region is the
``central_px`` square in its middle (margin ``m = (size − central) / 2``).
Tiles start every ``stride_px`` pixels along each axis, plus one flush with
the far edge so the central regions reach it.  With ``stride ≤ central`` the
central regions cover the map except a margin of ``m`` pixels along its edges
(the *footprint*), and every point of the footprint lies within ``stride / 2``
pixels of a tile centre along each axis.

Pixel centres are at integers; a point (x, y) is in the central region of the
tile with corner (x0, y0) iff ``x0 + m − ½ ≤ x < x0 + m + c − ½`` (same in
y) — the convention of the training cutouts.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from skysieve.errors import ConfigError, DataError

__all__ = ["TileBatch", "TileGrid", "iter_tile_batches", "tile_grid"]


@dataclass(frozen=True)
class TileGrid:
    """The tiles of one map.

    Attributes
    ----------
    shape : (int, int)
        Map shape (ny, nx), pixels.
    size_px, central_px, stride_px : int
        Tile side, central-region side and stride, pixels.
    x0, y0 : ndarray of int64
        Left (bottom) pixel of each column (row) of tiles, shapes (ntx,) and (nty,).

    Tile ``id = iy · ntx + ix`` has its corner at ``(x0[ix], y0[iy])``.
    """

    shape: tuple[int, int]
    size_px: int
    central_px: int
    stride_px: int
    x0: np.ndarray
    y0: np.ndarray

    @property
    def ntx(self) -> int:
        """Tiles along x."""
        return int(self.x0.size)

    @property
    def nty(self) -> int:
        """Tiles along y."""
        return int(self.y0.size)

    @property
    def n(self) -> int:
        """Number of tiles."""
        return self.ntx * self.nty

    @property
    def margin_px(self) -> int:
        """Pixels between a tile's edge and its central region."""
        return (self.size_px - self.central_px) // 2

    def corners(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Corner pixels (x0, y0) of tiles ``ids``, each of shape (n,)."""
        iy, ix = np.divmod(np.asarray(ids, np.int64), self.ntx)
        return self.x0[ix], self.y0[iy]

    def centres(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre pixels (x, y) of tiles ``ids``, float, each of shape (n,)."""
        x0, y0 = self.corners(ids)
        half = (self.size_px - 1) / 2.0
        return x0 + half, y0 + half

    def in_footprint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether pixel positions lie in some tile's central region, shape (n,), bool."""
        m, c = self.margin_px, self.central_px
        x, y = np.asarray(x, float), np.asarray(y, float)
        return ((x >= self.x0[0] + m - 0.5) & (x < self.x0[-1] + m + c - 0.5)
                & (y >= self.y0[0] + m - 0.5) & (y < self.y0[-1] + m + c - 0.5))

    def holders(self, x: float, y: float) -> np.ndarray:
        """Ids of the tiles whose central region holds the point (x, y), ascending."""
        ix = _holding(self.x0, float(x), self.margin_px, self.central_px)
        iy = _holding(self.y0, float(y), self.margin_px, self.central_px)
        return (iy[:, None] * self.ntx + ix[None, :]).ravel()


def _holding(starts: np.ndarray, pos: float, margin: int, central: int) -> np.ndarray:
    """Indices i with starts[i] + margin − ½ ≤ pos < starts[i] + margin + central − ½ (starts ascending)."""
    lo = np.searchsorted(starts, pos + 0.5 - margin - central, side="right")
    hi = np.searchsorted(starts, pos + 0.5 - margin, side="right")
    return np.arange(lo, hi, dtype=np.int64)


def _starts(n: int, size: int, stride: int) -> np.ndarray:
    starts = np.arange(0, n - size + 1, stride, dtype=np.int64)
    if starts[-1] != n - size:
        starts = np.append(starts, n - size)
    return starts


def tile_grid(shape: tuple[int, int], *, size_px: int, central_px: int, stride_px: int) -> TileGrid:
    """Lay out overlapping tiles over a map of ``shape`` = (ny, nx) pixels.

    Parameters
    ----------
    shape : (int, int)
    size_px : int
        Tile side (the CNN's input side).
    central_px : int
        Central-region side; ``size_px − central_px`` must be even.
    stride_px : int
        Step between tiles; at most ``central_px``, so the central regions
        leave no gaps.

    Returns
    -------
    TileGrid

    Raises
    ------
    ConfigError
        For a stride outside 1 … ``central_px`` or an odd margin.
    DataError
        If the map is smaller than one tile.
    """
    ny, nx = (int(s) for s in shape)
    if not 1 <= stride_px <= central_px:
        raise ConfigError(f"tile stride must be between 1 and the central size {central_px} px (got {stride_px} px); "
                          "a larger stride leaves sky that is central in no tile")
    if central_px > size_px or (size_px - central_px) % 2:
        raise ConfigError(f"tile central size {central_px} px must be at most the tile size {size_px} px and differ "
                          "from it by an even number of pixels")
    if ny < size_px or nx < size_px:
        raise DataError(f"maps of {ny}×{nx} px are smaller than one {size_px}×{size_px} px tile")
    return TileGrid((ny, nx), size_px, central_px, stride_px, _starts(nx, size_px, stride_px),
                    _starts(ny, size_px, stride_px))


@dataclass(frozen=True)
class TileBatch:
    """One batch of tiles.

    Attributes
    ----------
    ids : ndarray of shape (b,), int64
        Tile ids.
    images : ndarray of shape (b, size, size, nband), float32
        The tiles, channels last in the maps' band order.
    """

    ids: np.ndarray
    images: np.ndarray


def iter_tile_batches(data: np.ndarray, grid: TileGrid, *, batch_size: int = 512,
                      ids: np.ndarray | None = None) -> Iterator[TileBatch]:
    """Yield the tiles of ``data`` ``batch_size`` at a time, cut out as they are needed.

    Only one batch exists at a time (a generator over windows of ``data``; no
    tile is copied before its batch is asked for), so memory does not grow
    with the number of tiles.

    Parameters
    ----------
    data : ndarray of shape (nband, ny, nx)
        The maps.
    grid : TileGrid
    batch_size : int, keyword-only
    ids : ndarray of int, keyword-only, optional
        Tiles to cut, in order; default all, by id.

    Yields
    ------
    TileBatch
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1 (got {batch_size})")
    if tuple(data.shape[-2:]) != grid.shape:
        raise DataError(f"maps of shape {data.shape[-2:]} do not match the tile grid's {grid.shape}")
    s = grid.size_px
    windows = np.lib.stride_tricks.sliding_window_view(data, (s, s), axis=(1, 2))  # (nband, ny-s+1, nx-s+1, s, s)
    total = grid.n if ids is None else len(ids)
    for start in range(0, total, batch_size):
        chunk = (np.arange(start, min(start + batch_size, total), dtype=np.int64) if ids is None
                 else np.asarray(ids[start: start + batch_size], np.int64))
        x0, y0 = grid.corners(chunk)
        images = np.empty((chunk.size, s, s, data.shape[0]), dtype=np.float32)
        for b in range(data.shape[0]):
            images[..., b] = windows[b, y0, x0]
        yield TileBatch(chunk, images)
