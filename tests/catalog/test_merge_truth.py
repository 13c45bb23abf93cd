"""Merging the tiles of one object, and scoring a catalog against the truth (hand-checked cases)."""

import numpy as np
import pytest
from astropy.table import Table

from skysieve.catalog import match_one_to_one, merge_tiles, select_truth, truth_counts
from skysieve.catalog._truth import check_truth
from skysieve.config import PositiveCriteria
from skysieve.errors import DataError

ARCMIN = 1.0 / 60.0


def test_tiles_around_one_object_merge_into_one_candidate_seeded_by_the_best():
    # nine tiles on a 1.5′ grid around (10°, 0°), and one 10′ away
    dx = np.array([-1, 0, 1] * 3, float) * 1.5 * ARCMIN
    dy = np.repeat([-1, 0, 1], 3).astype(float) * 1.5 * ARCMIN
    ra, dec = np.append(10.0 + dx, 10.0 + 10 * ARCMIN), np.append(dy, 0.0)
    score = np.array([0.5, 0.6, 0.5, 0.6, 0.9, 0.6, 0.5, 0.6, 0.5, 0.7])
    groups = merge_tiles(ra, dec, score=score, detection=np.full(10, -1), radius_arcmin=3.0)
    assert [g[0] for g in groups] == [4, 9]  # seeds in decreasing score
    assert sorted(groups[0].tolist()) == list(range(9)) and groups[1].tolist() == [9]


def test_tiles_holding_different_detections_stay_apart_and_one_detection_is_one_object():
    ra = 10.0 + np.array([0.0, 1.0, 0.5, 20.0]) * ARCMIN
    dec = np.zeros(4)
    # tiles 0 and 1 hold two detections 1′ apart: two objects although within the radius;
    # tile 3 holds detection 0 (its position is that detection's, here set far for the test): it joins tile 0
    det = np.array([0, 1, -1, 0])
    groups = merge_tiles(ra, dec, score=np.array([0.9, 0.8, 0.7, 0.1]), detection=det, radius_arcmin=3.0)
    assert [sorted(g.tolist()) for g in groups] == [[0, 2, 3], [1]]


def test_merge_of_nothing_is_nothing():
    assert merge_tiles(np.zeros(0), np.zeros(0), score=np.zeros(0), detection=np.zeros(0, int),
                       radius_arcmin=3.0) == []


def test_one_to_one_matching_closest_pairs_first():
    truth_ra, truth_dec = np.array([10.0, 10.5]), np.array([0.0, 0.0])
    # candidates 0.3′ and 0.6′ from truth 0, one 2′ from truth 1
    ra = np.array([10.0 + 0.6 * ARCMIN, 10.0 + 0.3 * ARCMIN, 10.5 + 2 * ARCMIN])
    index, sep = match_one_to_one(ra, np.zeros(3), truth_ra, truth_dec, radius_arcmin=1.0)
    assert index.tolist() == [-1, 0, -1]
    np.testing.assert_allclose(sep[1], 0.3, rtol=1e-6)


def test_truth_counts_hand_checked():
    """3 candidates, 2 of them selected; 2 true objects; one selected candidate within 1′ of a truth.

    TP = 1, FP = 1, FN = 1: purity 1/2, completeness 1/2, F1 = 2·1 / (2·1 + 1 + 1) = 1/2.
    With every candidate selected the third (0.5′ from the second truth) also matches: TP 2, FP 1, FN 0.
    """
    truth = Table({"ra": [10.0, 10.5], "dec": [0.0, 0.0]})
    ra = np.array([10.0 + 0.4 * ARCMIN, 10.2, 10.5 - 0.5 * ARCMIN])
    c = truth_counts(ra, np.zeros(3), np.array([True, True, False]), truth, radius_arcmin=1.0)
    assert (c.tp, c.fp, c.fn) == (1, 1, 1)
    assert (c.purity, c.completeness, c.f1) == (0.5, 0.5, 0.5)
    c = truth_counts(ra, np.zeros(3), np.ones(3, bool), truth, radius_arcmin=1.0)
    assert (c.tp, c.fp, c.fn) == (2, 1, 0)
    assert c.f1 == pytest.approx(0.8)


def test_truth_is_the_positive_cut_inside_the_footprint():
    truth = Table({"ra": [1.0, 2.0, 3.0, 4.0], "dec": [0.0] * 4, "z": [0.5, 0.5, 0.1, 0.5],
                   "mvir": [3e14, 1e14, 3e14, 3e14]})
    truth["mvir"].unit = "solMass"
    sel = select_truth(truth, positive=PositiveCriteria(), in_footprint=lambda ra, dec: ra < 3.5)
    assert sel["ra"].tolist() == [1.0] and sel["halo_id"].tolist() == [0]


def test_truth_without_the_mass_column_names_what_is_missing():
    with pytest.raises(DataError, match=r"halos.fits: missing columns \['z', 'mvir'\]"):
        check_truth(Table({"ra": [1.0], "dec": [0.0]}), positive=PositiveCriteria(), name="halos.fits")
