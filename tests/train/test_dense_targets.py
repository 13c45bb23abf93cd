"""Dense targets (heatmaps) through the real training engine: contract, paired augmentation, loss, fit, save/load."""

import h5py
import numpy as np
import pytest
from astropy.table import Table

from skysieve.data import TARGETS_KEY, dense_targets, open_dataset, write_dense_targets
from skysieve.data.dataset import IMAGES_KEY
from skysieve.errors import ConfigError, DataError
from skysieve.train import dihedral
from skysieve.train._dense import augment_pair, training_loss

SIZE, STRIDE = 32, 4


def _write(directory, *, n=48, seed=0, stride=STRIDE, loss="centre_heatmap"):
    """n 3-band images; positives hold a bright blob at a random place, its target a bump at that cell."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    labels = (np.arange(n) % 2).astype(np.int16)
    images = rng.normal(0, 1, (n, SIZE, SIZE, 3)).astype(np.float32)
    t = SIZE // stride
    targets = np.zeros((n, t, t, 3), np.float32)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    jj, ii = np.mgrid[:t, :t]
    for k in np.flatnonzero(labels):
        cx, cy = rng.integers(1, t - 1, 2)
        x, y = (cx + 0.5) * stride - 0.5, (cy + 0.5) * stride - 0.5
        images[k] += 4.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 8.0)[..., None]
        targets[k, ..., 0] = np.exp(-((ii - cx) ** 2 + (jj - cy) ** 2) / 2.0)
        targets[k, cy, cx, 1:] = np.log(2.0)
    split = np.where(np.arange(n) < n // 4, "test", np.where(np.arange(n) < n // 2, "val", "train"))
    with h5py.File(directory / "cutouts.h5", "w") as h5:
        h5.create_dataset(IMAGES_KEY, data=images, chunks=(1, SIZE, SIZE, 3)).attrs["channels"] = ["g", "r", "i"]
        write_dense_targets(h5, targets, loss=loss, stride=stride, channels=("heatmap", "log_w", "log_h"))
    Table({"id": np.arange(n), "ra": np.linspace(10, 11, n), "dec": np.zeros(n), "label": labels, "split": split,
           "group": np.arange(n) % 4}).write(directory / "catalog.fits")
    return directory


def test_dense_targets_contract(tmp_path):
    ds = open_dataset(_write(tmp_path / "d"))
    t = dense_targets(ds)
    assert t.loss == "centre_heatmap" and t.stride == STRIDE and t.shape == (48, 8, 8, 3)
    assert t.channels == ("heatmap", "log_w", "log_h")
    assert training_loss(ds).__name__ == "centre_heatmap_loss"
    with h5py.File(ds.tensor_path, "a") as h5:
        del h5[TARGETS_KEY]
    assert dense_targets(ds) is None and training_loss(ds) == "binary_crossentropy"


def test_dense_targets_refused_when_they_do_not_fit(tmp_path):
    ds = open_dataset(_write(tmp_path / "d", stride=3))  # 32 px do not make 10-cell maps at stride 3
    with pytest.raises(DataError, match="do not fit cutouts"):
        dense_targets(ds)
    ds = open_dataset(_write(tmp_path / "e", loss="no_such_loss"))
    with pytest.raises(ConfigError, match="unknown loss 'no_such_loss'"):
        training_loss(ds)


def test_augment_pair_moves_image_and_target_together():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 8, 8, 1)).astype(np.float32)
    xa, ya = augment_pair(x, x.copy(), fraction=1.0, rng=np.random.default_rng(2))
    # the same element on both: the transformed target equals the transformed image, row by row
    np.testing.assert_array_equal(xa, ya)
    assert any(not np.array_equal(xa[i], x[i]) for i in range(64))
    # and each output is one of the 7 non-identity D4 images of its input
    for i in range(8):
        assert any(np.array_equal(xa[i], dihedral(x[i:i + 1], k)[0]) for k in range(1, 8))
    # a coarser target map gets the same element as its image
    coarse = rng.normal(size=(64, 4, 4, 2)).astype(np.float32)
    xs, ys = augment_pair(x, coarse, fraction=1.0, rng=np.random.default_rng(2))
    for i in range(64):
        k = next(k for k in range(1, 8) if np.array_equal(xs[i], dihedral(x[i:i + 1], k)[0]))
        np.testing.assert_array_equal(ys[i], dihedral(coarse[i:i + 1], k)[0])


def test_a_quarter_turn_swaps_a_box_width_and_height():
    """A box 6 cells wide and 2 high, turned by 90°, is 2 wide and 6 high: its size channels trade places."""
    from skysieve.data import transpose_pairs

    channels = ("heatmap", "log_width", "log_height")
    assert transpose_pairs(channels) == ((1, 2),)
    assert transpose_pairs(("heatmap", "width", "height", "flux")) == ((1, 2),)
    assert transpose_pairs(("heatmap", "log_width")) == ()
    x = np.zeros((32, 8, 8, 1), np.float32)
    x[:, 3:5, 1:7, 0] = 1.0  # the object: 6 px wide, 2 high
    t = np.zeros((32, 8, 8, 3), np.float32)
    t[:, 3, 3, 0] = 1.0
    t[:, 3, 3, 1:] = np.log([6.0, 2.0])
    xa, ya = augment_pair(x, t, fraction=1.0, rng=np.random.default_rng(4), swap=transpose_pairs(channels))
    for i in range(32):
        ys, xs = np.nonzero(xa[i, ..., 0])
        width, height = np.ptp(xs) + 1, np.ptp(ys) + 1
        cy, cx = np.unravel_index(np.argmax(ya[i, ..., 0]), (8, 8))
        assert np.exp(ya[i, cy, cx, 1:]) == pytest.approx([width, height])
    # without the pairs named, the sizes would be wrong after a quarter turn (the old behaviour)
    _, yb = augment_pair(x, t, fraction=1.0, rng=np.random.default_rng(4))
    assert not np.allclose(yb, ya)


def test_centre_heatmap_loss_against_numpy():
    from skysieve.nets import centre_heatmap_loss

    rng = np.random.default_rng(3)
    t = np.zeros((2, 4, 4, 3), np.float32)
    t[0, ..., 0] = 0.5
    t[0, 1, 2, 0] = 1.0
    t[0, 1, 2, 1:] = [0.3, -0.2]
    p = rng.uniform(0.05, 0.95, (2, 4, 4, 3)).astype(np.float32)
    got = np.asarray(centre_heatmap_loss(t, p))
    heat, pred = t[..., 0], p[..., 0]
    c = heat >= 1
    focal = -(np.where(c, (1 - pred) ** 2 * np.log(pred), (1 - heat) ** 4 * pred**2 * np.log(1 - pred))).sum((1, 2))
    n = np.maximum(c.sum((1, 2)), 1)
    size = (np.abs(t[..., 1:] - p[..., 1:]).sum(-1) * c).sum((1, 2))
    np.testing.assert_allclose(got, focal / n + 0.1 * size / n, rtol=1e-5)


def test_engine_trains_a_centre_net_on_dense_targets_and_it_round_trips(tmp_path):
    from skysieve.config import TrainParams
    from skysieve.train import FoldEnsemble, predict_dataset, train_ensemble

    ds = open_dataset(_write(tmp_path / "d"))
    cfg = TrainParams.model_validate({
        "net": {"name": "centre_net", "filters": 4, "max_filters": 8, "levels": 2, "context_convs": 1,
                "output_stride": STRIDE, "head_filters": 4},
        "optimizer": {"name": "adam", "learning_rate": 1e-2}, "batch_size": 8, "eval_batch_size": 16, "epochs": 2,
        "splitter": "holdout", "norm_sample": 16, "seed": 1, "imbalance": {"strategy": "none"},
        "augment": {"fraction": 0.5}})
    result = train_ensemble(cfg, ds)
    model = result.ensemble.models[0]
    assert model.output_shape == (None, SIZE // STRIDE, SIZE // STRIDE, 3)
    hist = result.cv.folds[0].fit.history
    assert len(hist) == 2 and all(np.isfinite(h["loss"]) for h in hist)
    scores = predict_dataset(result.ensemble, ds, ds.indices("test"), raw=True)
    assert scores.shape == (12,) and np.all((scores >= 0) & (scores <= 1))
    maps = np.asarray(model.predict_on_batch(ds.read(ds.indices("test"))))
    np.testing.assert_allclose(scores, maps[..., 0].reshape(12, -1).max(1), rtol=1e-5)
    back = FoldEnsemble.load(result.ensemble.save(tmp_path / "m"))
    np.testing.assert_allclose(predict_dataset(back, ds, ds.indices("test"), raw=True), scores, rtol=1e-5)
