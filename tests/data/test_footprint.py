"""The footprint of survey maps: mask across bands, edge distance, taper, whitening, weight maps checked."""

import numpy as np
import pytest

from skysieve.data import SkyMaps, make_footprint, read_maps, read_weights, write_map
from skysieve.data.footprint import cosine_taper, edge_distance_px
from skysieve.errors import DataError
from tests.conftest import make_car_wcs

SHAPE = (40, 48)


def _maps(data, wcs=None):
    wcs = wcs if wcs is not None else make_car_wcs(SHAPE)
    return SkyMaps(data=np.asarray(data, np.float32), wcs=wcs, bands=("90GHz", "148GHz"), freqs_ghz=(90.0, 148.0),
                   unit="uK_CMB", paths=("a.fits", "b.fits"))


def test_edge_distance_is_the_distance_to_the_nearest_unobserved_pixel_the_map_outside_included():
    mask = np.ones((7, 9), bool)
    mask[3, 6] = False
    d = edge_distance_px(mask)
    assert d[3, 6] == 0 and d[3, 5] == 1 and d[2, 5] == pytest.approx(np.sqrt(2))
    assert d[0, 0] == 1 and d[3, 2] == 3  # the map border is one pixel beyond the outer pixels
    assert d.dtype == np.float32


def test_taper_is_a_cosine_from_zero_at_the_edge_to_one_after_its_width():
    d = np.arange(0, 12, dtype=np.float32)
    t = cosine_taper(d, width_px=4.0)
    assert t[0] == 0 and np.all(t[5:] == 1) and np.all(np.diff(t) >= 0)
    assert t[1] == pytest.approx(np.sin(np.pi / 2 * 0.5 / 4) ** 2)
    window = cosine_taper(d, width_px=4.0, offset_px=4.0)
    assert np.all(window[t < 1] == 0) and window[-1] == 1


def test_footprint_is_finite_in_every_band_and_weight_positive():
    data = np.zeros((2, *SHAPE))
    data[0, :, :5] = np.nan
    data[1, :3, :] = np.nan
    weights = np.ones((2, *SHAPE))
    weights[1, -4:, :] = 0.0
    fp = make_footprint(_maps(data), weights=weights, apod_arcmin=1.0)
    expect = np.ones(SHAPE, bool)
    expect[:, :5] = expect[:3, :] = expect[-4:, :] = False
    assert np.array_equal(fp.mask, expect) and not fp.periodic
    assert fp.fraction == pytest.approx(expect.mean())
    assert np.all(fp.taper[~expect] == 0) and fp.taper.max() == 1
    assert np.all(fp.noise_window[fp.taper < 1] == 0)
    # edge distance of a position: that of its nearest pixel, in arcmin (0.25′ pixels)
    assert fp.edge_distance_arcmin([20.2], [20.4])[0] == pytest.approx(fp.edge_px[20, 20] * 0.25)
    assert fp.edge_distance_arcmin([2.0, -3.0], [20.0, 20.0]).tolist() == [0.0, 0.0]


def test_whitening_scales_the_noise_to_the_median_depth_and_blanks_outside():
    rng = np.random.default_rng(1)
    rel = np.where(np.arange(SHAPE[1]) < 24, 1.0, 0.25)[None, :] * np.ones(SHAPE)
    noise = rng.normal(0.0, 1.0, (2, *SHAPE)) / np.sqrt(rel)
    noise[:, :2, :] = np.nan
    fp = make_footprint(_maps(noise), weights=np.stack([rel, rel]), apod_arcmin=0.0)
    out = fp.whiten(noise.astype(np.float32))
    assert np.isfinite(out).all() and np.all(out[:, :2, :] == 0)
    inner = out[:, 4:-4, 4:-4]
    left, right = inner[..., :18].std(), inner[..., 24:].std()
    median = np.median(rel[2:])  # 0.25 or 1 → whitened noise at that depth: std √(rel/median)/√rel = 1/√median
    assert left == pytest.approx(right, rel=0.1) and left == pytest.approx(1 / np.sqrt(median), rel=0.1)


def test_maps_without_blank_pixels_are_periodic():
    fp = make_footprint(_maps(np.zeros((2, *SHAPE))))
    assert fp.periodic and fp.noise_window is None and np.all(fp.taper == 1)
    data = np.ones((2, *SHAPE), np.float32)
    assert fp.whiten(data) is data and fp.apodize(data) is data


def test_a_band_with_no_finite_pixel_or_an_empty_intersection_is_refused():
    data = np.zeros((2, *SHAPE))
    data[1] = np.nan
    with pytest.raises(DataError, match="b.fits: no finite pixel"):
        make_footprint(_maps(data))
    data = np.zeros((2, *SHAPE))
    data[0, :, :24] = data[1, :, 24:] = np.nan
    with pytest.raises(DataError, match="the footprint .* has no valid pixel"):
        make_footprint(_maps(data))


def test_read_maps_keeps_nan_only_when_asked_and_refuses_an_all_nan_map(tmp_path):
    wcs = make_car_wcs(SHAPE)
    img = np.zeros(SHAPE)
    img[:3] = np.nan
    path = write_map(tmp_path / "m.fits", img, wcs, freq_ghz=90.0)
    with pytest.raises(DataError, match="144 NaN or infinite pixels.*skysieve catalog reads them"):
        read_maps([path])
    assert np.isnan(read_maps([path], allow_nan=True).data).sum() == 144
    blank = write_map(tmp_path / "blank.fits", np.full(SHAPE, np.nan), wcs, freq_ghz=90.0)
    with pytest.raises(DataError, match="blank.fits: the map is entirely NaN"):
        read_maps([blank], allow_nan=True)


def test_weight_maps_are_checked_against_their_band(tmp_path):
    wcs = make_car_wcs(SHAPE)
    maps = read_maps([write_map(tmp_path / "a.fits", np.zeros(SHAPE), wcs, freq_ghz=90.0),
                      write_map(tmp_path / "b.fits", np.zeros(SHAPE), wcs, freq_ghz=148.0)])
    good = write_map(tmp_path / "wa.fits", np.ones(SHAPE), wcs, freq_ghz=90.0)
    nan = write_map(tmp_path / "wb.fits", np.where(np.arange(SHAPE[1]) < 5, np.nan, 2.0) * np.ones(SHAPE), wcs,
                    freq_ghz=148.0)
    w = read_weights([good, nan], maps)
    assert w.shape == (2, *SHAPE) and w[1, 0, 0] == 0 and w[1, 0, 10] == 2  # NaN weight: unobserved
    with pytest.raises(DataError, match="--weights gave 1 weight maps for 2 band maps"):
        read_weights([good], maps)
    other = write_map(tmp_path / "wo.fits", np.ones(SHAPE), make_car_wcs(SHAPE, ra0=16.0), freq_ghz=148.0)
    with pytest.raises(DataError, match=f"{other}: WCS .* differs from its band {tmp_path / 'b.fits'}"):
        read_weights([good, other], maps)
    neg = write_map(tmp_path / "wn.fits", -np.ones(SHAPE), wcs, freq_ghz=148.0)
    with pytest.raises(DataError, match="wn.fits: negative or infinite weights.*give --maps before --weights"):
        read_weights([good, neg], maps)
