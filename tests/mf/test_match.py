"""DeepSZ §2.3 matching, case by case on hand-built catalogs, and the continuous per-cutout score."""

import numpy as np
import pytest
from astropy.table import Table

from skysieve.errors import DataError
from skysieve.mf import assign_to_cutouts, cutout_scores, match_detections, match_to_halos
from tests.conftest import make_car_wcs

SHAPE = (96, 96)  # 0.25′ pixels; 32-px cutouts every 24 px, central 24 px: central regions tile x, y ∈ [3.5, 75.5)
WCS = make_car_wcs(SHAPE)
CENTRAL = 24


def cutouts() -> Table:
    iy, ix = np.divmod(np.arange(9), 3)
    return Table({"id": np.arange(9) + 100, "x0": 24 * ix, "y0": 24 * iy, "size_px": np.full(9, 32)})


def detections(xy, snr) -> Table:
    x, y = np.array(xy, float).T
    ra, dec = WCS.wcs_pix2world(x, y, 0)
    return Table({"ra": ra, "dec": dec, "snr": np.asarray(snr, float), "x": x, "y": y,
                  "theta_c_arcmin": np.full(len(x), 1.0)})


def halos(xy, mass) -> Table:
    x, y = np.array(xy, float).T
    ra, dec = WCS.wcs_pix2world(x, y, 0)
    return Table({"halo_id": np.arange(len(x)) + 1000, "ra": ra, "dec": dec, "mvir": np.asarray(mass, float)})


def test_detection_matches_the_most_massive_halo_within_the_radius():
    h = halos([(50.0, 50.0), (52.0, 50.0), (53.2, 50.0), (55.0, 50.0)], [1e14, 3e14, 2e14, 1e15])  # 0, 0.5, 0.8, 1.25′
    d = detections([(50.0, 50.0)], [6.0])
    idx = match_to_halos(d["ra"], d["dec"], h["ra"], h["dec"], h["mvir"], radius_arcmin=1.0)
    assert idx.tolist() == [1]  # 3e14 at 0.5′ beats 1e14 at 0′; 1e15 at 1.25′ is too far
    idx = match_to_halos(d["ra"], d["dec"], h["ra"], h["dec"], h["mvir"], radius_arcmin=1.5)
    assert idx.tolist() == [3]


def test_no_halo_within_the_radius_is_a_false_detection():
    h = halos([(60.0, 50.0)], [5e14])  # 2.5′ away
    d = detections([(50.0, 50.0)], [6.0])
    assert match_to_halos(d["ra"], d["dec"], h["ra"], h["dec"], h["mvir"]).tolist() == [-1]
    assert match_to_halos(d["ra"], d["dec"], h["ra"][:0], h["dec"][:0], h["mvir"][:0]).tolist() == [-1]


def test_true_detection_goes_by_position_and_by_truth_to_different_cutouts():
    # Detection at x = 26.5 (central region of cutout column 0); its halo at x = 28.5 (column 1), 0.5′ away.
    m = match_detections(detections([(26.5, 40.0)], [7.0]), cutouts(), wcs=WCS, central_px=CENTRAL,
                         halos=halos([(28.5, 40.0)], [4e14]))
    assert m["halo_id"].tolist() == [1000]
    assert m["cutout_id"].tolist() == [100 + 3 * 1 + 0]  # position only: the cutout holding the detection
    assert m["cutout_id_truth"].tolist() == [100 + 3 * 1 + 1]  # truth-assisted: the cutout of the halo centre
    assert m["halo_sep_arcmin"][0] == pytest.approx(0.5, abs=0.01)
    peak = np.zeros(SHAPE)
    by_position = cutout_scores(m, cutouts(), peak_snr_map=peak, central_px=CENTRAL, snr_threshold=4.0)
    by_truth = cutout_scores(m, cutouts(), peak_snr_map=peak, central_px=CENTRAL, snr_threshold=4.0,
                             assignment="truth")
    assert np.flatnonzero(by_position["mf_detected"]).tolist() == [3]
    assert np.flatnonzero(by_truth["mf_detected"]).tolist() == [4]


def test_position_only_scores_never_read_the_truth():
    # The same detections scored with a halo catalog, without one, and with every truth column removed: the
    # position-only scores are identical (a truth-assisted score would move the detection at x = 26.5).
    dets = detections([(26.5, 40.0), (60.0, 60.0)], [7.0, 5.0])
    peak = np.random.default_rng(1).uniform(0, 3.5, SHAPE)
    with_truth = match_detections(dets, cutouts(), wcs=WCS, central_px=CENTRAL,
                                  halos=halos([(28.5, 40.0), (60.5, 60.0)], [4e14, 2e14]))
    without = match_detections(dets, cutouts(), wcs=WCS, central_px=CENTRAL)
    stripped = with_truth.copy()
    stripped.remove_columns(["halo_id", "halo_sep_arcmin", "cutout_id_truth"])
    scores = [cutout_scores(t, cutouts(), peak_snr_map=peak, central_px=CENTRAL, snr_threshold=4.0)
              for t in (with_truth, without, stripped)]
    for s in scores[1:]:
        assert s["mf_snr"].tolist() == scores[0]["mf_snr"].tolist()
        assert s["mf_detected"].tolist() == scores[0]["mf_detected"].tolist()
    truth = cutout_scores(with_truth, cutouts(), peak_snr_map=peak, central_px=CENTRAL, snr_threshold=4.0,
                          assignment="truth")
    assert truth["mf_detected"].tolist() != scores[0]["mf_detected"].tolist()
    assert (scores[2]["mf_halo_id"] == -1).all()
    with pytest.raises(ValueError, match="assignment 'halo'"):
        cutout_scores(with_truth, cutouts(), peak_snr_map=peak, central_px=CENTRAL, snr_threshold=4.0,
                      assignment="halo")


def test_false_detection_goes_to_the_cutout_holding_it():
    m = match_detections(detections([(26.5, 40.0)], [7.0]), cutouts(), wcs=WCS, central_px=CENTRAL,
                         halos=halos([(60.0, 80.0)], [4e14]))
    assert m["halo_id"].tolist() == [-1]
    assert m["cutout_id"].tolist() == [100 + 3 * 1 + 0]
    no_truth = match_detections(detections([(26.5, 40.0)], [7.0]), cutouts(), wcs=WCS, central_px=CENTRAL)
    assert no_truth["cutout_id"].tolist() == [103] and no_truth["halo_id"].tolist() == [-1]


def test_central_region_boundaries_and_the_edge_fallback():
    c = cutouts()
    rows = assign_to_cutouts(np.array([27.49, 27.5, 1.0, 78.0, 90.0]), np.full(5, 10.0),
                             x0=c["x0"], y0=c["y0"], size_px=c["size_px"], central_px=CENTRAL)
    # 27.49 in column 0, 27.5 in column 1 (half-open intervals); x = 1 and x = 78 lie in no central region but
    # in the footprint of the edge cutouts (which end at x = 79.5); x = 90 is in no cutout.
    assert rows.tolist() == [0, 1, 0, 2, -1]


def test_several_detections_in_a_cutout_keep_the_highest_snr():
    m = match_detections(detections([(10.0, 10.0), (20.0, 20.0), (50.0, 50.0)], [5.0, 9.0, 6.0]), cutouts(),
                         wcs=WCS, central_px=CENTRAL)
    peak = np.zeros(SHAPE)
    s = cutout_scores(m, cutouts(), peak_snr_map=peak, central_px=CENTRAL, snr_threshold=4.0)
    assert s["id"].tolist() == list(range(100, 109))
    assert s["mf_snr"][0] == pytest.approx(9.0) and s["mf_detected"][0]
    assert s["mf_ra"][0] == pytest.approx(m["ra"][1])
    assert s["mf_snr"][4] == pytest.approx(6.0)
    assert s["mf_detected"].sum() == 2


def test_cutouts_without_detection_get_the_central_snr_maximum_capped_at_the_threshold():
    peak = np.zeros(SHAPE)
    peak[40, 40] = 2.5  # central region of the middle cutout (row 4): a sub-threshold bump
    peak[40, 2] = 3.9   # outside any central region of row 3 (x < 3.5): ignored
    peak[10, 60] = 9.0  # above threshold in row 2, but its detection was assigned elsewhere
    m = match_detections(detections([(60.0, 10.0)], [9.0]), cutouts(), wcs=WCS, central_px=CENTRAL,
                         halos=halos([(60.0, 30.0)], [5e14]))  # halo 5′ away: no match, stays in row 2
    s = cutout_scores(m[:0], cutouts(), peak_snr_map=peak, central_px=CENTRAL, snr_threshold=4.0)
    assert s["mf_snr"][4] == pytest.approx(2.5)
    assert s["mf_snr"][3] == pytest.approx(0.0)
    assert s["mf_snr"][2] == pytest.approx(4.0)  # capped: pixels above threshold belong to a detection
    assert not s["mf_detected"].any() and (s["mf_halo_id"] == -1).all() and np.isnan(s["mf_ra"]).all()


def test_halo_catalog_without_the_mass_column_is_refused():
    h = halos([(50.0, 50.0)], [1e14])
    h.remove_column("mvir")
    with pytest.raises(DataError, match=r"halo catalog: missing columns \['mvir'\]"):
        match_detections(detections([(50.0, 50.0)], [6.0]), cutouts(), wcs=WCS, central_px=CENTRAL, halos=h)
