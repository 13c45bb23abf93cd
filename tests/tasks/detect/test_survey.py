"""Survey inference: FITS inputs and their errors, windows, masking, NMS on the sky, the catalog search contract."""

import numpy as np
import pytest
from astropy.io import fits

from skysieve.errors import DataError
from skysieve.tasks.detect._fits import field_wcs, read_bands, write_band
from skysieve.tasks.detect.survey import bin_to_scale, detect_image, nms_sky, window_starts

BANDS = ("g", "r", "i")


def _write_bands(directory, *, size=96, scale=0.792, bands=BANDS, seed=0):
    rng = np.random.default_rng(seed)
    wcs = field_wcs(ra_deg=150.0, dec_deg=2.0, size_px=size, pixel_arcsec=scale)
    paths = []
    for b in bands:
        p = directory / f"f_{b}.fits"
        write_band(p, rng.normal(0, 1, (size, size)), wcs=wcs, band=b, sigma_nmgy=1.0, psf_fwhm_arcsec=1.4)
        paths.append(p)
    return paths


def test_read_bands_orders_by_filter_and_refuses_bad_input(tmp_path):
    paths = _write_bands(tmp_path)
    imgs = read_bands(paths[::-1], bands=BANDS)
    assert imgs.bands == BANDS and imgs.data.shape == (96, 96, 3) and imgs.pixel_arcsec == pytest.approx(0.792)
    with pytest.raises(DataError, match=r"missing band\(s\) \['i'\]"):
        read_bands(paths[:2], bands=BANDS)
    bare = tmp_path / "nowcs.fits"
    fits.PrimaryHDU(np.zeros((96, 96), np.float32), header=fits.Header({"FILTER": "i"})).writeto(bare)
    with pytest.raises(DataError, match="no celestial WCS"):
        read_bands([*paths[:2], bare], bands=BANDS)
    small = _write_bands(tmp_path / ".." / tmp_path.name, size=64, bands=("i",), seed=1)  # overwrite i smaller
    with pytest.raises(DataError, match="shape .* differs"):
        read_bands([*paths[:2], *small], bands=BANDS)
    with pytest.raises(DataError, match="not found"):
        read_bands([tmp_path / "absent.fits"], bands=BANDS)


def test_windows_cover_and_binning_refuses_odd_scales():
    s = window_starts(300, window=128, step=96)
    assert s[0] == 0 and s[-1] == 300 - 128 and np.all(np.diff(s) <= 96)
    assert list(window_starts(100, window=128, step=96)) == [0]
    data = np.ones((10, 10, 3))
    binned, k = bin_to_scale(data, pixel_arcsec=0.396, model_arcsec=0.792)
    assert k == 2 and binned.shape == (5, 5, 3) and np.all(binned == 4)
    with pytest.raises(DataError, match="does not divide"):
        bin_to_scale(data, pixel_arcsec=0.5, model_arcsec=0.792)


def test_nms_on_the_sky_keeps_the_best_of_each_group():
    ra = np.array([150.0, 150.0 + 10 / 3600, 150.1, 150.1 + 100 / 3600])
    dec = np.full(4, 2.0)
    keep = nms_sky(ra, dec, np.array([0.5, 0.9, 0.3, 0.4]), radius_arcsec=30.0)
    assert list(keep) == [1, 3, 2]


def test_detect_image_masks_nan_and_reports_windows(tmp_path):
    from skysieve.config import CentreNetParams
    from skysieve.nets import InputSpec, build_net

    model = build_net(CentreNetParams(filters=4, max_filters=8, levels=2, context_convs=0, head_filters=4),
                      inputs=InputSpec((32, 32, 3), np.zeros(3), np.ones(3)), seed=0)
    imgs = read_bands(_write_bands(tmp_path, size=96), bands=BANDS)
    data = imgs.data.copy()
    data[:, :40] = np.nan  # the left part is outside the footprint
    res = detect_image(data, imgs.wcs, pixel_arcsec=0.792, models=[model], window_px=32, model_arcsec=1.584,
                       stride=4, stretch_kind="sqrt", softening=3.0, min_score=0.0, max_per_window=3, overlap_px=8,
                       nms_arcsec=5.0)
    # 48×48 model pixels, windows of 32 every 24: starts (0, 16) per axis; those at x0 = 0 cover x < 64 input px,
    # which is partly observed, so none is skipped here
    assert res.n_windows == 4 and res.n_skipped == 0
    assert res.masked_deg2 == pytest.approx(96 * 40 * (0.792 / 3600) ** 2)
    assert len(res.table) > 0 and np.all(res.table["x_px"] >= 40 - 1)  # nothing on masked pixels
    assert set(res.table.colnames) >= {"ra", "dec", "score", "x_px", "y_px"}
    data[:] = np.nan
    empty = detect_image(data, imgs.wcs, pixel_arcsec=0.792, models=[model], window_px=32, model_arcsec=1.584,
                         stride=4, stretch_kind="sqrt", softening=3.0, min_score=0.0, max_per_window=3,
                         overlap_px=8, nms_arcsec=5.0)
    assert empty.n_windows == 0 and empty.n_skipped == 4 and len(empty.table) == 0


def test_the_search_keeps_the_contract():
    from skysieve.tasks import get_search
    from tests.tasks.test_conformance import check_search

    check_search(get_search("detect"))  # found through its entry point
