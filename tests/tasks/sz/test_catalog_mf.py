"""The matched filter over tiles: blocks, the block-by-block filter against the whole-map one, tile scores."""

import numpy as np
import pytest

from skysieve.catalog import match_one_to_one, tile_grid
from skysieve.errors import ConfigError
from skysieve.tasks.sz._catalog_config import CatalogConfig, catalog_config_from_params
from skysieve.tasks.sz._catalog_mf import filter_tiles, map_blocks
from tests.catalog.conftest import catalog_params
from tests.conftest import make_car_wcs
from tests.mf.conftest import cluster_signal, make_sky, toy_cmb_cl


@pytest.fixture(scope="module")
def config() -> CatalogConfig:
    return CatalogConfig.model_validate(catalog_config_from_params(catalog_params()))


def test_small_maps_are_one_block_filtered_whole():
    (block,) = map_blocks((300, 500), block_px=512, margin_px=64)
    assert block.outer == block.inner == (0, 300, 0, 500)


def test_inner_regions_tile_the_map_and_blocks_stay_within_the_block_size():
    blocks = map_blocks((1000, 2300), block_px=512, margin_px=64)
    cover = np.zeros((1000, 2300), np.int64)
    for b in blocks:
        iy0, iy1, ix0, ix1 = b.inner
        oy0, oy1, ox0, ox1 = b.outer
        cover[iy0:iy1, ix0:ix1] += 1
        assert (iy0 - oy0, oy1 - iy1, ix0 - ox0, ox1 - ix1) == (64, 64, 64, 64)  # margins wrap at the map edges
        assert oy1 - oy0 <= 512 and ox1 - ox0 <= 512
    assert (cover == 1).all()
    # an axis that fits in one block is not split and gets no margin
    assert {b.outer[:2] for b in map_blocks((400, 2300), block_px=512, margin_px=64)} == {(0, 400)}


def test_block_must_exceed_twice_the_margin():
    with pytest.raises(ConfigError, match="must exceed twice its margin"):
        map_blocks((2000, 2000), block_px=128, margin_px=64)


def test_blocks_agree_with_the_whole_map_filter(config):
    """On a periodic 384² sky (CMB, noise, six clusters), 3 × 3 blocks of 256 px find the same clusters.

    The noise is estimated per block (from 64′ instead of 96′ of sky, each with a bright cluster in it),
    so SNRs scatter by ~10 % around the whole-map values; positions agree to a fraction of a pixel.
    """
    shape = (384, 384)
    wcs = make_car_wcs(shape)
    pos = [(60.3, 70.2), (190.0, 200.0), (250.5, 130.4), (330.2, 320.7), (128.0, 300.0), (300.0, 40.0)]
    signal = sum(cluster_signal(shape, wcs, x=x, y=y, y_arcmin2=2e-4, theta_c_arcmin=0.8, truncate=20)
                 for x, y in pos)
    sky = make_sky(shape, seed=2, signal=signal, cmb=toy_cmb_cl())
    grid = tile_grid(shape, size_px=16, central_px=12, stride_px=6)
    whole = filter_tiles(sky, grid, config=config, block_px=1024, margin_px=64)
    blocked = filter_tiles(sky, grid, config=config, block_px=256, margin_px=64)
    assert (whole.n_blocks, blocked.n_blocks) == (1, 9)
    assert len(whole.detections) == len(blocked.detections) == 6
    index, _ = match_one_to_one(blocked.detections["ra"], blocked.detections["dec"], whole.detections["ra"],
                                  whole.detections["dec"], radius_arcmin=0.25)
    assert (index >= 0).all()
    ratio = np.asarray(blocked.detections["snr"]) / np.asarray(whole.detections["snr"])[index]
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio
    diff = np.abs(blocked.central_max - whole.central_max)
    assert np.median(diff) < 0.3 and np.isfinite(blocked.central_max).all()


def test_tile_scores_follow_the_mf_sz_rule(config):
    """Tiles holding the detection score its SNR; every other tile its central maximum capped at the threshold."""
    shape = (128, 128)
    wcs = make_car_wcs(shape)
    sky = make_sky(shape, seed=4, signal=cluster_signal(shape, wcs, x=64.0, y=61.0, y_arcmin2=3e-4,
                                                           theta_c_arcmin=0.8, truncate=20))
    grid = tile_grid(shape, size_px=16, central_px=12, stride_px=6)
    mf = filter_tiles(sky, grid, config=config)
    assert len(mf.detections) == 1
    d = mf.detections[0]
    holders = grid.holders(d["x"], d["y"])
    assert holders.size == 4  # stride = central / 2: the detection is central in 2 × 2 tiles
    snr, det = mf.tile_snr(np.arange(grid.n))
    np.testing.assert_allclose(snr[holders], d["snr"])
    assert (det[holders] == 0).all() and (det[np.setdiff1d(np.arange(grid.n), holders)] == -1).all()
    others = np.setdiff1d(np.arange(grid.n), holders)
    assert snr[others].max() <= config.mf.snr_threshold
    np.testing.assert_allclose(snr[others], np.minimum(mf.central_max.ravel()[others], config.mf.snr_threshold),
                               rtol=1e-6)


def test_a_second_detection_in_a_central_region_is_kept_as_extra(config):
    """Two clusters 9′ apart in one tile's 30′ central region: the brighter is the tile's, the other is extra."""
    shape = (128, 128)
    wcs = make_car_wcs(shape)
    signal = (cluster_signal(shape, wcs, x=44.0, y=64.0, y_arcmin2=2e-4, theta_c_arcmin=0.8, truncate=3)
              + cluster_signal(shape, wcs, x=80.0, y=64.0, y_arcmin2=1.2e-4, theta_c_arcmin=0.8, truncate=3))
    sky = make_sky(shape, seed=4, signal=signal)
    grid = tile_grid(shape, size_px=128, central_px=120, stride_px=8)  # one tile
    mf = filter_tiles(sky, grid, config=config)
    assert len(mf.detections) == 2
    assert np.asarray(mf.detections["x"]) == pytest.approx([44.0, 80.0], abs=0.5)  # brighter first
    assert mf.best_detection.tolist() == [[0]]
    assert mf.extra.tolist() == [[0, 1]]
