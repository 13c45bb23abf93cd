"""Peak finding: groups of connected pixels, SNR-weighted positions, best scale per object."""

import numpy as np
import pytest

from skysieve.mf import detection_catalog, find_peaks
from tests.conftest import make_car_wcs


def blob(shape, y, x, peak, width):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return peak * np.exp(-0.5 * ((yy - y) ** 2 + (xx - x) ** 2) / width**2)


def test_two_separate_groups_give_two_detections_at_their_weighted_centres():
    snr = blob((64, 64), 20, 15, 8.0, 2.0) + blob((64, 64), 40, 45.5, 6.0, 2.0)
    peaks = find_peaks(snr, threshold=4.0, core_fraction=0.0)
    assert len(peaks) == 2
    assert list(peaks["snr"]) == pytest.approx([8.0, snr[40, 45]])  # brightest first; peak pixel value
    assert (peaks["y"][0], peaks["x"][0]) == pytest.approx((20, 15), abs=1e-6)  # symmetric: exact centroid
    assert (peaks["y"][1], peaks["x"][1]) == pytest.approx((40, 45.5), abs=1e-6)
    assert (peaks["y_peak"][0], peaks["x_peak"][0]) == (20, 15)


def test_weighted_mean_is_the_deepsz_rule_with_core_fraction_zero():
    snr = np.zeros((10, 10))
    snr[5, 2:5] = [5.0, 6.0, 9.0]  # one group of three pixels
    peaks = find_peaks(snr, threshold=4.0, core_fraction=0.0)
    assert peaks["x"][0] == pytest.approx((2 * 5 + 3 * 6 + 4 * 9) / 20)
    assert peaks["npix"][0] == 3
    core = find_peaks(snr, threshold=4.0, core_fraction=0.6)  # keeps 6 and 9 (≥ 5.4)
    assert core["x"][0] == pytest.approx((3 * 6 + 4 * 9) / 15)


def test_diagonal_pixels_are_connected():
    snr = np.zeros((8, 8))
    snr[2, 2] = snr[3, 3] = snr[4, 4] = 5.0
    assert len(find_peaks(snr, threshold=4.0)) == 1


def test_best_scale_is_kept_per_object():
    a = blob((48, 48), 24, 24, 5.0, 1.0)  # small scale: weaker here
    b = blob((48, 48), 24.4, 23.6, 7.0, 3.0)  # larger scale: stronger, overlapping
    c = blob((48, 48), 5, 40, 6.0, 1.0) + a  # small scale only: a second object
    peaks = find_peaks(np.stack([c, b]), threshold=4.0)
    assert len(peaks) == 2
    first, second = peaks[0], peaks[1]
    assert first["scale"] == 1 and first["snr"] == pytest.approx(b.max())
    assert second["scale"] == 0 and (second["y_peak"], second["x_peak"]) == (5, 40)


def test_nothing_above_threshold_gives_an_empty_table_that_still_converts():
    peaks = find_peaks(np.zeros((2, 16, 16)), threshold=4.0)
    assert len(peaks) == 0
    cat = detection_catalog(peaks, wcs=make_car_wcs((16, 16)), theta_c_arcmin=np.array([0.5, 1.0]),
                            sigma_arcmin2=np.array([1.0, 2.0]))
    assert len(cat) == 0 and {"ra", "dec", "snr", "theta_c_arcmin"} <= set(cat.colnames)


def test_detection_catalog_gives_sky_positions_scale_and_y():
    wcs = make_car_wcs((32, 32))
    snr = np.stack([np.zeros((32, 32)), blob((32, 32), 10, 20, 6.0, 1.5)])
    cat = detection_catalog(find_peaks(snr, threshold=4.0), wcs=wcs, theta_c_arcmin=np.array([0.5, 1.0]),
                            sigma_arcmin2=np.array([1e-5, 2e-5]))
    ra, dec = wcs.wcs_pix2world([[20, 10]], 0)[0]
    assert (cat["ra"][0], cat["dec"][0]) == pytest.approx((ra, dec), abs=1e-9)
    assert cat["theta_c_arcmin"][0] == 1.0 and cat["y_arcmin2"][0] == pytest.approx(6.0 * 2e-5)


def _pair(shape=(64, 96), sep=14.0, a1=40.0, a2=24.0, width=4.0):
    """A faint blob on the wing of a bright one: one connected region above 4."""
    y0, x0 = 32.0, 30.0
    return blob(shape, y0, x0, a1, width) + blob(shape, y0, x0 + sep, a2, width), (y0, x0), (y0, x0 + sep)


def _prominence_of_the_faint_blob(a1, a2, sep, width):
    """Analytic: its peak minus the lowest value on the line between the two (the saddle), on a fine grid."""
    t = np.linspace(0.0, sep, 200001)
    line = a1 * np.exp(-0.5 * (t / width) ** 2) + a2 * np.exp(-0.5 * ((t - sep) / width) ** 2)
    near = t > sep / 2
    peak = line[near].max()
    between = (t > t[np.argmax(line[~near])]) & (t < t[near][np.argmax(line[near])])
    return peak - line[between].min()


def test_deblending_splits_a_faint_cluster_off_a_bright_ones_wing():
    snr, bright, faint = _pair()
    assert len(find_peaks(snr, threshold=4.0)) == 1  # without deblending: one region, one detection
    peaks = find_peaks(snr, threshold=4.0, deblend_prominence=3.0)
    assert len(peaks) == 2
    assert (peaks["y_peak"][0], peaks["x_peak"][0]) == (32, 30)
    assert (peaks["y_peak"][1], peaks["x_peak"][1]) == (32, 44)
    assert peaks["snr"][1] == pytest.approx(snr[32, 44])
    # each part's position is near its own blob, not pulled to the pair's middle
    assert abs(peaks["x"][0] - bright[1]) < 0.5 and abs(peaks["x"][1] - faint[1]) < 0.5
    assert peaks["y"][1] == pytest.approx(32.0, abs=1e-6)  # symmetric about y = 32


def test_deblending_threshold_is_the_analytic_prominence():
    """The split happens exactly when deblend_prominence is below the faint peak's height above the saddle."""
    snr, *_ = _pair(sep=14.0, a1=40.0, a2=24.0, width=4.0)
    prom = _prominence_of_the_faint_blob(40.0, 24.0, 14.0, 4.0)
    assert 3.0 < prom < 30.0
    # the pixel grid samples the continuous profile: the pixel saddle lies within a fraction of a unit of it
    below, above = prom - 0.5, prom + 0.5
    assert len(find_peaks(snr, threshold=4.0, deblend_prominence=below)) == 2
    assert len(find_peaks(snr, threshold=4.0, deblend_prominence=above)) == 1


def test_deblending_leaves_single_peaked_regions_exactly_as_they_were():
    rng = np.random.default_rng(3)
    stack = np.stack([blob((64, 64), 20, 15, 8.0, 2.0) + blob((64, 64), 40, 45.5, 30.0, 3.0),
                      blob((64, 64), 20.3, 15.2, 9.0, 3.0) + blob((64, 64), 40, 45.5, 33.0, 4.0)])
    stack += 0.05 * rng.standard_normal(stack.shape)  # tiny ripples: local maxima of prominence ≪ 3
    plain = find_peaks(stack, threshold=4.0)
    deblended = find_peaks(stack, threshold=4.0, deblend_prominence=3.0)
    assert len(plain) == 2
    for col in plain.colnames:
        np.testing.assert_array_equal(np.asarray(deblended[col]), np.asarray(plain[col]))


def test_deblended_part_keeps_its_own_best_scale():
    """Two scales: the bright blob is best at the wide one, the compact faint one at the narrow one."""
    shape = (64, 96)
    narrow = blob(shape, 32, 30, 20.0, 2.0) + blob(shape, 32, 44, 18.0, 2.0) + blob(shape, 32, 37, 12.0, 5.0)
    wide = blob(shape, 32, 30, 30.0, 5.0) + blob(shape, 32, 44, 12.0, 5.0)
    peaks = find_peaks(np.stack([narrow, wide]), threshold=4.0, deblend_prominence=3.0)
    assert len(peaks) == 2
    assert peaks["scale"][0] == 1 and peaks["scale"][1] == 0
    assert peaks["x_peak"][1] == 44


def test_deblended_positions_are_not_pulled_towards_each_other():
    """Two near-equal clusters on each other's wings, every pixel weighted (core_fraction 0): each part is
    its own basin, so neither centroid takes the other's skirt (an island cut at the saddle would)."""
    snr = blob((64, 96), 32, 40, 30.0, 3.0) + blob((64, 96), 32, 49, 26.0, 3.0)
    assert len(find_peaks(snr, threshold=4.0)) == 1
    peaks = find_peaks(snr, threshold=4.0, core_fraction=0.0, deblend_prominence=3.0)
    assert len(peaks) == 2
    # the brighter part holds its own basin only (a region cut at the fainter one's saddle, the rest left
    # whole, put it 2.4 px off); the fainter one's cap leans on the other's wing: the sum's own maximum lies
    # at 48.87, the cap's centroid within 0.6 px of the blob
    assert abs(peaks["x"][0] - 40.0) < 0.25 and abs(peaks["x"][1] - 49.0) < 0.75
    assert peaks["npix"][0] + peaks["npix"][1] == find_peaks(snr, threshold=4.0)["npix"][0]
    assert 0.5 < peaks["npix"][1] / peaks["npix"][0] < 1.0  # split near the saddle, the fainter part smaller
