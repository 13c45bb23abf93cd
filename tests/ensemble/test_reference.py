"""Rank percentiles against a stored reference, mid-rank for ties."""

import numpy as np
import pytest
from scipy import stats

from skysieve.ensemble import ReferenceDistribution, rank_percentile
from skysieve.errors import DataError


@pytest.mark.parametrize("seed", range(3))
def test_percentile_is_scipy_mean_kind(seed):
    rng = np.random.default_rng(seed)
    reference = np.round(rng.normal(size=200), 1)  # many ties
    scores = np.r_[np.round(rng.normal(size=50), 1), reference[:10], -10.0, 10.0]
    expected = [stats.percentileofscore(reference, s, kind="mean") / 100 for s in scores]
    np.testing.assert_allclose(ReferenceDistribution(reference).percentile(scores), expected)
    np.testing.assert_allclose(rank_percentile(scores, reference), expected)


def test_ties_take_the_mid_rank():
    ref = ReferenceDistribution([0.0, 0.0, 0.0, 1.0])
    assert ref.percentile(0.0) == pytest.approx(3 / 8)  # (0 below + 3 at-or-below) / 2 / 4
    assert ref.percentile(-1.0) == 0.0 and ref.percentile(2.0) == 1.0
    assert ref.percentile(0.5) == pytest.approx(0.75)


def test_percentile_does_not_depend_on_the_batch():
    rng = np.random.default_rng(0)
    ref = ReferenceDistribution(rng.normal(size=500))
    batch = rng.normal(size=100)
    alone = np.array([ref.percentile(x) for x in batch])
    np.testing.assert_array_equal(ref.percentile(batch), alone)
    np.testing.assert_array_equal(ref.percentile(batch[:3]), alone[:3])
    assert np.isnan(ref.percentile([np.nan]))[0]


def test_reference_is_sorted_read_only_and_validated():
    ref = ReferenceDistribution([3.0, 1.0, 2.0], name="mf_snr")
    np.testing.assert_array_equal(ref.values, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        ref.values[0] = 5.0
    assert len(ref) == 3 and "mf_snr" in repr(ref)
    assert ref == ReferenceDistribution([1.0, 2.0, 3.0], name="mf_snr")
    with pytest.raises(DataError, match="no reference scores"):
        ReferenceDistribution([])
    with pytest.raises(DataError, match="1 NaN or infinite"):
        ReferenceDistribution([1.0, np.inf], name="cnn_prob")
