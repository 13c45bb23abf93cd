"""Test-time augmentation of the detector's output maps: the eight orientations and their inverses."""

import numpy as np
import pytest

from skysieve.tasks.detect.evaluate import predict_maps, undo_dihedral
from skysieve.train import dihedral


def _pool2(a: np.ndarray) -> np.ndarray:
    """2 × 2 mean pooling of (n, ny, nx) with stride 2."""
    n, ny, nx = a.shape
    return a.reshape(n, ny // 2, 2, nx // 2, 2).mean(axis=(2, 4))


class _Equivariant:
    """A stride-2 'detector' that commutes with rotations and flips by construction.

    Heatmap: the pooled first channel. Box: log width from the pooled
    horizontal contrast, log height from the vertical one — so a quarter turn
    of the input swaps them, as it swaps a real cluster's width and height.
    """

    def predict_on_batch(self, x):
        x = np.asarray(x, dtype=np.float64)
        a = x[..., 0]
        dx = np.abs(np.diff(a, axis=2, append=a[:, :, :1])) + np.abs(np.diff(a, axis=2, prepend=a[:, :, -1:]))
        dy = np.abs(np.diff(a, axis=1, append=a[:, :1])) + np.abs(np.diff(a, axis=1, prepend=a[:, -1:]))
        return np.stack([_pool2(a), _pool2(dx), _pool2(dy)], axis=-1).astype(np.float32)


class _Shifted:
    """Not equivariant: its heatmap is the pooled image moved one cell to the right (a biased centre)."""

    def predict_on_batch(self, x):
        h = _pool2(np.asarray(x, dtype=np.float64)[..., 0])
        h = np.roll(h, 1, axis=2)
        return np.stack([h, np.zeros_like(h), np.ones_like(h)], axis=-1).astype(np.float32)


@pytest.mark.parametrize("k", range(8))
def test_undo_inverts_every_orientation(k):
    rng = np.random.default_rng(k)
    maps = rng.normal(size=(2, 8, 8, 3))
    there = dihedral(maps, k)
    back = undo_dihedral(there, k)
    # the inverse restores the heatmap; the box channels come back swapped after a quarter turn
    np.testing.assert_array_equal(back[..., 0], maps[..., 0])
    np.testing.assert_array_equal(back[..., 1:], maps[..., [2, 1]] if k % 2 else maps[..., 1:])


def test_the_eight_orientations_are_distinct():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    views = {dihedral(x, k).tobytes() for k in range(8)}
    assert len(views) == 8


def test_an_equivariant_model_is_unchanged_by_tta():
    x = np.random.default_rng(0).gamma(2.0, size=(5, 16, 16, 3)).astype(np.float32)
    # the rectangle makes width and height differ, so a missing channel swap would show
    x[0, 4:6, 2:14, 0] += 10.0
    plain = predict_maps([_Equivariant()], x, batch_size=2)
    tta = predict_maps([_Equivariant()], x, batch_size=2, tta=True)
    assert plain.shape == (5, 8, 8, 3)
    assert not np.allclose(plain[0, ..., 1], plain[0, ..., 2])
    np.testing.assert_allclose(tta, plain, rtol=1e-5, atol=1e-6)


def test_tta_averages_a_biased_model_back_to_the_centre():
    """A point source: the shifted model puts its peak off the source; the 8 orientations average it out."""
    x = np.zeros((1, 16, 16, 1), dtype=np.float32)
    x[0, 6:8, 6:8, 0] = 1.0  # cell (3, 3)
    plain = predict_maps([_Shifted()], x)[0, ..., 0]
    tta = predict_maps([_Shifted()], x, tta=True)[0, ..., 0]
    assert np.unravel_index(np.argmax(plain), plain.shape) == (3, 4)
    # each orientation moves the peak one cell along another axis: the mean is centred on the source
    ys, xs = np.mgrid[:8, :8]
    assert (tta * xs).sum() / tta.sum() == pytest.approx(3.0)
    assert (tta * ys).sum() / tta.sum() == pytest.approx(3.0)
    manual = np.mean([undo_dihedral(_Shifted().predict_on_batch(dihedral(x, k)), k) for k in range(8)], axis=0)
    np.testing.assert_allclose(tta, manual[0, ..., 0], rtol=1e-6)


def test_plain_prediction_is_the_models_mean_bit_for_bit():
    x = np.random.default_rng(1).normal(size=(3, 16, 16, 1)).astype(np.float32)
    models = [_Equivariant(), _Shifted()]
    expected = np.mean([m.predict_on_batch(x) for m in models], axis=0)
    np.testing.assert_array_equal(predict_maps(models, x), expected)


def test_tta_refuses_a_rectangular_image():
    with pytest.raises(ValueError, match="square"):
        predict_maps([_Equivariant()], np.zeros((1, 16, 8, 1), np.float32), tta=True)
