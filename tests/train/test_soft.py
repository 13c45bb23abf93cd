"""Soft-target training: targets checked, a softmax learns vote fractions, refits restart cleanly, freezing."""

import keras
import numpy as np
import pytest
from astropy.table import Table

from skysieve.errors import DataError
from skysieve.train import SoftTrainer, augment_stamps, fit_soft, freeze_blocks, predict_soft, soft_targets


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((4, 4, 1))
    h = keras.layers.Flatten(name="b1_flat")(x)
    h = keras.layers.Dense(8, activation="relu", name="b2_dense")(h)
    return keras.Model(x, keras.layers.Dense(3, activation="softmax", name="out")(h))


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, n)
    x = rng.normal(0, 0.1, (n, 4, 4, 1)).astype("float32")
    x[np.arange(n), kind, 0, 0] += 3.0
    targets = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    return x, targets[kind].astype("float32"), targets, kind


def test_soft_targets_refuses_rows_that_are_not_probability_vectors():
    t = Table({"p_a": [0.5, 0.7], "p_b": [0.5, 0.2]})
    with pytest.raises(DataError, match=r"row 1: \[0.7, 0.2\], sum 0.9000.*sum to 1"):
        soft_targets(t, ["p_a", "p_b"], where="cat.fits")
    with pytest.raises(DataError, match=r"cat.fits: missing target columns \['p_c'\]"):
        soft_targets(t, ["p_a", "p_c"], where="cat.fits")
    assert soft_targets(Table({"p_a": [0.25], "p_b": [0.75]}), ["p_a", "p_b"]).shape == (1, 2)


def test_a_softmax_fitted_with_cross_entropy_recovers_the_vote_fractions():
    x, y, targets, kind = _data()
    fit = fit_soft(_model(), x_train=x, y_train=y, x_val=x[:32], y_val=y[:32], learning_rate=0.05,
                   batch_size=32, epochs=25, patience=25, seed=1)
    p = predict_soft(fit.model, x)
    assert np.allclose(p.sum(axis=1), 1.0)
    for k in range(3):  # the minimiser of the cross-entropy is p = y, not the one-hot argmax
        assert np.allclose(p[kind == k].mean(axis=0), targets[k], atol=0.08)
    assert fit.history[fit.best_epoch]["val_loss"] <= fit.history[0]["val_loss"]


def test_a_trainer_refit_from_the_same_weights_and_seed_repeats_itself_and_frozen_layers_stay():
    x, y, _, _ = _data()
    model = _model()
    start = model.get_weights()
    trainer = SoftTrainer(model)
    kw = dict(x_train=x, y_train=y, x_val=x[:16], y_val=y[:16], learning_rate=0.01, batch_size=16, epochs=2,
              patience=5, seed=3)
    first = [w.copy() for w in trainer.fit(weights=start, **kw).model.get_weights()]
    second = trainer.fit(weights=start, **kw).model.get_weights()
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(first, second))  # Adam state was reset

    model = _model()
    blocks = [[model.get_layer("b1_flat")], [model.get_layer("b2_dense")]]
    assert freeze_blocks(blocks, 2) == 2
    before = model.get_layer("b2_dense").get_weights()[0].copy()
    fit_soft(model, **kw)
    assert np.array_equal(model.get_layer("b2_dense").get_weights()[0], before)
    with pytest.raises(DataError, match="frozen depth 3 is outside 0 … 2"):
        freeze_blocks(blocks, 3)


def test_batches_made_on_the_background_thread_give_the_serial_fit_to_the_last_bit():
    x, y, _, _ = _data()
    model = _model()
    start = model.get_weights()
    trainer = SoftTrainer(model)

    def shifted(xb, *, rng):  # draws from the batches' generator, as the stamp augmentation does
        return augment_stamps(xb, rng=rng, rotate=False, flip=True, shift_px=1)

    kw = dict(x_train=x, y_train=y, x_val=x[:16], y_val=y[:16], learning_rate=0.05, batch_size=16, epochs=6,
              patience=1, seed=3, augment=shifted)
    serial = trainer.fit(weights=start, prefetch=False, **kw)
    serial_w, serial_h = [w.copy() for w in serial.model.get_weights()], serial.history
    threaded = trainer.fit(weights=start, prefetch=True, **kw)
    assert threaded.history == serial_h and threaded.best_epoch == serial.best_epoch
    assert all(np.array_equal(a, b) for a, b in zip(serial_w, threaded.model.get_weights()))
    # the augmentation matters (a fit without it differs), so the equality above is not trivial
    plain = trainer.fit(weights=start, **{**kw, "augment": None})
    assert plain.history != serial_h

    def broken(xb, *, rng):
        raise ValueError("augmentation failed on batch")

    with pytest.raises(ValueError, match="augmentation failed"):
        trainer.fit(weights=start, **{**kw, "augment": broken})


def test_fit_refuses_targets_of_the_wrong_width():
    x, y, _, _ = _data(8)
    with pytest.raises(DataError, match="2 classes but the model outputs 3"):
        fit_soft(_model(), x_train=x, y_train=y[:, :2], x_val=x, y_val=y, learning_rate=0.01, batch_size=4,
                 epochs=1, patience=1, seed=0)


def test_augment_keeps_flux_and_shape_and_only_rotates_flips_shifts():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:21, :21] - 10
    x = np.exp(-(xx**2 + yy**2) / 8.0)[None, ..., None].astype("float32")
    out = augment_stamps(np.repeat(x, 4, 0), rng=rng, rotate=True, flip=True, shift_px=0)
    assert out.shape == (4, 21, 21, 1)
    assert np.allclose(out.sum(axis=(1, 2, 3)), x.sum(), rtol=0.02)  # a round blob is rotation invariant
    shifted = augment_stamps(x, rng=np.random.default_rng(5), rotate=False, flip=False, shift_px=3)
    cy, cx = np.unravel_index(np.argmax(shifted[0, ..., 0]), (21, 21))
    assert max(abs(cy - 10), abs(cx - 10)) <= 3


def test_a_refit_with_dropout_repeats_itself_whatever_was_fitted_in_between():
    from skysieve.train import reseed_generators

    keras.utils.set_random_seed(0)
    x_in = keras.Input((4, 4, 1))
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(x_in))
    h = keras.layers.Dropout(0.5, seed=1)(h)
    model = keras.Model(x_in, keras.layers.Dense(3, activation="softmax")(h))
    x, y, _, _ = _data()
    start, trainer = model.get_weights(), SoftTrainer(model)
    kw = dict(x_train=x, y_train=y, x_val=x[:16], y_val=y[:16], learning_rate=0.01, batch_size=16, epochs=2,
              patience=5)
    first = [w.copy() for w in trainer.fit(weights=start, seed=3, **kw).model.get_weights()]
    other = [w.copy() for w in trainer.fit(weights=start, seed=4, **kw).model.get_weights()]
    again = trainer.fit(weights=start, seed=3, **kw).model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # bit for bit: dropout masks restarted
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))  # another seed, other masks
    assert reseed_generators(model, 0) == 1 and reseed_generators(keras.Model(x_in, x_in), 0) == 0


def test_validation_scoring_is_the_eager_forward_pass_to_the_last_bit():
    """``_forward`` (traced ``predict_on_batch``) = ``model(x, training=False)``, batch-norm and dropout included."""
    from skysieve.train._soft import _forward

    keras.utils.set_random_seed(4)
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", name="b1_conv")(inp)
    h = keras.layers.BatchNormalization(momentum=0.5, name="b1_bn")(h)
    h = keras.layers.Dropout(0.5, name="b2_drop")(keras.layers.Flatten()(h))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="out")(h))
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 2.0, (70, 8, 8, 1)).astype("float32")
    y = np.full((70, 3), 1 / 3, "float32")
    fit = fit_soft(model, x_train=x, y_train=y, x_val=x[:20], y_val=y[:20], learning_rate=0.01, batch_size=16,
                   epochs=2, patience=2, seed=6)  # moving statistics away from their initial values
    eager = np.concatenate([keras.ops.convert_to_numpy(fit.model(x[i: i + 32], training=False))
                            for i in range(0, 70, 32)]).astype(np.float64)
    assert not np.allclose(eager, eager.mean(axis=0))  # the inputs are told apart, so a mismatch would show
    assert np.array_equal(_forward(fit.model, x, 32), eager)  # 32, 32 and a last batch of 6
