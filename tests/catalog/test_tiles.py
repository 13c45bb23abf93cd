"""Tile layout and streaming: geometry, the footprint, holders, and batches cut only when asked for."""

import inspect

import numpy as np
import pytest

from skysieve.catalog import iter_tile_batches, tile_grid
from skysieve.errors import ConfigError, DataError


def test_grid_reaches_the_far_edge_and_ids_map_to_corners():
    grid = tile_grid((100, 90), size_px=32, central_px=24, stride_px=12)
    assert grid.x0.tolist() == [0, 12, 24, 36, 48, 58]  # 58 = 90 − 32: the extra tile flush with the edge
    assert grid.y0.tolist() == [0, 12, 24, 36, 48, 60, 68]
    assert grid.n == 6 * 7
    x0, y0 = grid.corners(np.array([0, 5, 6, 41]))
    assert x0.tolist() == [0, 58, 0, 58] and y0.tolist() == [0, 0, 12, 68]
    xc, yc = grid.centres(np.array([0]))
    assert (xc[0], yc[0]) == (15.5, 15.5)


def test_central_regions_cover_the_footprint_and_holders_match_brute_force():
    grid = tile_grid((70, 70), size_px=16, central_px=12, stride_px=6)
    m, c = grid.margin_px, grid.central_px
    rng = np.random.default_rng(0)
    for x, y in rng.uniform(-1, 71, (300, 2)):
        ids = grid.holders(x, y)
        x0, y0 = grid.corners(np.arange(grid.n))
        brute = np.flatnonzero((x0 + m - 0.5 <= x) & (x < x0 + m + c - 0.5)
                               & (y0 + m - 0.5 <= y) & (y < y0 + m + c - 0.5))
        assert ids.tolist() == brute.tolist()
        assert (ids.size > 0) == bool(grid.in_footprint(np.array([x]), np.array([y]))[0])
    # With stride = central / 2 every footprint point is central in 2 × 2 tiles away from the edges.
    assert grid.holders(35.2, 35.7).size == 4


@pytest.mark.parametrize("stride, message", [(0, "between 1 and the central size 12"),
                                             (13, "between 1 and the central size 12")])
def test_stride_out_of_range_is_refused(stride, message):
    with pytest.raises(ConfigError, match=message):
        tile_grid((64, 64), size_px=16, central_px=12, stride_px=stride)


def test_map_smaller_than_a_tile_is_refused():
    with pytest.raises(DataError, match="smaller than one 16×16 px tile"):
        tile_grid((10, 64), size_px=16, central_px=12, stride_px=6)


def test_batches_hold_the_right_pixels_channels_last():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(3, 40, 50)).astype(np.float32)
    grid = tile_grid((40, 50), size_px=16, central_px=12, stride_px=6)
    seen = []
    for batch in iter_tile_batches(data, grid, batch_size=7):
        assert batch.images.shape[1:] == (16, 16, 3) and batch.images.dtype == np.float32
        assert len(batch.ids) <= 7
        x0, y0 = grid.corners(batch.ids)
        for k in range(len(batch.ids)):
            expected = data[:, y0[k]:y0[k] + 16, x0[k]:x0[k] + 16].transpose(1, 2, 0)
            np.testing.assert_array_equal(batch.images[k], expected)
        seen.extend(batch.ids.tolist())
    assert seen == list(range(grid.n))


def test_tiles_are_streamed_not_materialised():
    """A generator that cuts each batch from the maps when it is asked for, never all tiles up front."""
    data = np.zeros((3, 64, 64), np.float32)
    grid = tile_grid((64, 64), size_px=16, central_px=12, stride_px=6)
    batches = iter_tile_batches(data, grid, batch_size=10)
    assert inspect.isgenerator(batches)
    first = next(batches)
    assert first.images.shape == (10, 16, 16, 3) and not first.images.any()
    data += 1.0  # pixels changed after the first batch was cut: the next batches see the new values
    rest = list(batches)
    assert all(b.images.shape[0] <= 10 for b in rest) and all((b.images == 1.0).all() for b in rest)
    assert sum(b.images.shape[0] for b in rest) == grid.n - 10
    assert not np.shares_memory(rest[0].images, data)  # each batch owns its pixels; the maps are not held


def test_batch_size_must_be_positive():
    grid = tile_grid((64, 64), size_px=16, central_px=12, stride_px=6)
    with pytest.raises(ConfigError, match="batch size must be >= 1"):
        next(iter_tile_batches(np.zeros((3, 64, 64), np.float32), grid, batch_size=0))
