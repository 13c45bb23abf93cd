"""``store_inputs``: the weightless input layers applied once per cutout, the rest of the net trained on the result."""

import keras
import numpy as np
import pytest

from skysieve.config import TrainParams
from skysieve.data.dataset import CutoutReader
from skysieve.data.dihedral import dihedral
from skysieve.nets import InputSpec, build_net, preprocess
from skysieve.train import (
    TrainingCheckpoint,
    TrainingObserver,
    checkpoint_key,
    fit_model,
    predict_dataset,
    train_ensemble,
    with_overrides,
)
from skysieve.train._stored import StoredInputs, split_input_layers, store_inputs
from tests.train._fixtures import TINY_RECIPE

_np = keras.ops.convert_to_numpy

#: A small VGG with the lens net's input layers (colour differences against the last band, asinh stretch).
_VGG = {"name": "vgg", "filters": 4, "max_filters": 8, "blocks": 2, "convs_per_block": 1, "dense_units": 8,
        "dropout": 0.0, "colour_difference": True, "input_stretch": "asinh"}


def _cfg(tiny_recipe, **extra):
    return with_overrides(tiny_recipe.model_copy(update={"net": TrainParams.model_validate(
        {**TINY_RECIPE, "net": _VGG}).net}), extra)


def _model(net, x):
    p = preprocess(x, net)  # the statistics are of what the input layers give
    return build_net(net, inputs=InputSpec(x.shape[1:], p.mean(axis=(0, 1, 2)), p.var(axis=(0, 1, 2))), seed=1)


def test_the_split_shares_the_weights_and_composes_to_the_model(tiny_cutouts, tiny_recipe):
    x = tiny_cutouts.read(np.arange(16))
    model = _model(_cfg(tiny_recipe).net, x)
    head, body = split_input_layers(model)
    assert not head.weights and len(body.weights) == len(model.weights)
    assert all(a is b for a, b in zip(body.weights, model.weights, strict=True))
    h = _np(head(x))
    assert h.shape == (16, *x.shape[1:3], 5)  # three bands and two colour differences
    np.testing.assert_array_equal(_np(body(h)), _np(model(x)))
    # The head commutes with the rotations and flips the augmentation draws, to rounding.
    for k in range(1, 8):
        np.testing.assert_allclose(_np(head(dihedral(x, k))), dihedral(h, k), rtol=1e-4, atol=1e-4)


def test_a_net_without_costly_input_layers_is_not_split(tiny_cutouts, tiny_recipe):
    x = tiny_cutouts.read(np.arange(4))
    bare = tiny_recipe.net.model_copy(update={"colour_difference": False})
    assert split_input_layers(_model(bare, x)) is None  # centring alone: a subtraction, not worth storing
    assert split_input_layers(_model(tiny_recipe.net, x)) is not None  # with the SZ colour differences it is


def test_stored_inputs_read_like_the_dataset_and_refuse_rows_not_stored(tiny_cutouts):
    rows = np.array([7, 3, 11])
    stored = StoredInputs(tiny_cutouts, rows, tiny_cutouts.read(rows) * 2)
    np.testing.assert_array_equal(stored.read([11, 7]), tiny_cutouts.read([11, 7]) * 2)
    np.testing.assert_array_equal(CutoutReader(stored).read(np.array([3])), tiny_cutouts.read([3]) * 2)
    np.testing.assert_array_equal(stored.labels, tiny_cutouts.labels)
    with pytest.raises(IndexError, match=r"rows \[5\] were not stored"):
        stored.read([3, 5])


def test_store_inputs_applies_the_head_once_per_row(tiny_cutouts, tiny_recipe):
    x_rows = np.array([0, 5, 9, 5])
    model = _model(_cfg(tiny_recipe).net, tiny_cutouts.read(np.arange(16)))
    head, _ = split_input_layers(model)
    stored = store_inputs(head, tiny_cutouts, x_rows, batch_size=3)
    assert stored.images.shape[0] == 3  # unique rows
    np.testing.assert_allclose(stored.read([9, 0]), _np(head(tiny_cutouts.read([9, 0]))), rtol=1e-6, atol=1e-6)


def test_without_augmentation_stored_inputs_train_the_same_net(tiny_cutouts, tiny_recipe):
    rows = {"fit_rows": tiny_cutouts.indices("train"), "val_rows": tiny_cutouts.indices("val"), "seed": 0}
    plain = fit_model(_cfg(tiny_recipe, epochs=2), tiny_cutouts, **rows)
    stored = fit_model(_cfg(tiny_recipe, epochs=2, store_inputs=True), tiny_cutouts, **rows)
    for a, b in zip(plain.history, stored.history, strict=True):
        np.testing.assert_allclose([a[k] for k in sorted(a)], [b[k] for k in sorted(a)], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stored.val_scores, plain.val_scores, rtol=1e-4, atol=1e-5)
    # The model returned is the whole net: raw cutouts in, its own scores out.
    np.testing.assert_array_equal(predict_dataset(stored.model, tiny_cutouts, rows["val_rows"]), stored.val_scores)
    assert stored.model.get_layer("asinh_stretch") is not None


class _Stop(TrainingObserver):
    def __init__(self, at=None):
        self.at = at

    def epoch_ended(self, fold, step, logs):
        if (fold.index, step) == self.at:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_stored_inputs_resume_from_a_checkpoint_bit_for_bit(tiny_cutouts, tiny_recipe, tmp_path):
    cfg = _cfg(tiny_recipe, epochs=2, store_inputs=True, **{"augment.fraction": 0.3, "net.dropout": 0.3})
    full = train_ensemble(cfg, tiny_cutouts)
    key = checkpoint_key(cfg, data={"data.cutouts.md5": "x"})
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(cfg, tiny_cutouts, observer=_Stop(at=(1, 0)),
                       checkpoint=TrainingCheckpoint.open(tmp_path / "ckpt", key=key))
    resumed = train_ensemble(cfg, tiny_cutouts, checkpoint=TrainingCheckpoint.open(tmp_path / "ckpt", key=key))
    assert resumed.cv.folds[1].fit.resumed_epochs == 1
    np.testing.assert_array_equal(full.val_raw, resumed.val_raw)
    for a, b in zip(full.cv.folds, resumed.cv.folds, strict=True):
        np.testing.assert_array_equal(a.oof_scores, b.oof_scores)
