"""Simulated annotators: vote fractions are probability vectors; confusions move the right way; noise floor."""

import numpy as np
import pytest

from skysieve.tasks.morphology._votes import annotator_noise_floor, vote_fractions, vote_probabilities

KW = {"base_error": 0.08, "snr_half": 8.0, "size_psf_half": 1.2, "edge_on_weight": 0.45}


def _probs(klass, snr=100.0, size=5.0, inc=0.0, skill=(1.0, 0.8)):
    n = 1
    return vote_probabilities(np.array([klass]), snr=np.full(n, snr), size_ratio=np.full(n, size),
                              inclination_deg=np.full(n, inc), skill=np.array(skill), **KW)[0]


def test_vote_probabilities_are_normalised_and_favour_the_true_class_when_easy():
    p = _probs(1)
    assert np.allclose(p.sum(axis=-1), 1)
    assert np.all(np.argmax(p, axis=-1) == 1)


def test_faint_images_go_to_unclassifiable_and_edge_on_disks_to_spheroid():
    assert _probs(0, snr=2.0)[:, 4].mean() > 0.8
    face, edge = _probs(1, inc=0.0), _probs(1, inc=88.0)
    assert edge[:, 0].mean() > face[:, 0].mean() + 0.1
    small = _probs(2, size=0.3)
    assert small[:, 3].mean() > _probs(2)[:, 3].mean() + 0.1


def test_vote_fractions_sum_to_one_and_converge_to_the_probabilities():
    rng = np.random.default_rng(1)
    p = np.broadcast_to(np.array([0.5, 0.2, 0.1, 0.1, 0.1]), (20000, 5, 5))
    votes, fractions = vote_fractions(p, rng=rng)
    assert votes.shape == (20000, 5)
    assert np.array_equal(fractions.sum(axis=1), np.ones(20000))
    assert np.allclose(fractions.mean(axis=0), [0.5, 0.2, 0.1, 0.1, 0.1], atol=0.01)


def test_noise_floor_against_a_direct_computation():
    votes = np.array([[0, 0, 1, 0, 0], [2, 2, 2, 2, 3]])
    floor = annotator_noise_floor(votes, n_classes=5)
    sq = []
    for row in votes:
        for a in range(5):
            rest = np.bincount(np.delete(row, a), minlength=5) / 4
            sq.append((np.eye(5)[row[a]] - rest) ** 2)
    assert floor["one_vs_rest"] == pytest.approx(np.sqrt(np.mean(sq)))
    unanimous = annotator_noise_floor(np.zeros((3, 5), int), n_classes=5)
    assert unanimous["one_vs_rest"] == 0.0
