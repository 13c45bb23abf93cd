"""Compiling with the optimizer built up front: one trace of the training step, the same training."""

import keras
import numpy as np

from skysieve.train._compile import compile_built


class _CountTraces(keras.layers.Layer):
    """Identity that counts how often its Python ``call`` runs: once per trace in a traced step."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, x):
        self.calls += 1
        return x


def _model():
    keras.utils.set_random_seed(3)
    x = keras.Input((6, 6, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(x)
    h = keras.layers.Dropout(0.3, seed=1)(keras.layers.Flatten()(h))
    counter = _CountTraces()
    out = keras.layers.Dense(3, activation="softmax")(counter(h))
    return keras.Model(x, out), counter


def _batches():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(8, 6, 6, 1)).astype("float32"),
             rng.dirichlet(np.ones(3), size=8).astype("float32")) for _ in range(4)]


def _train(build_first: bool):
    model, counter = _model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    if build_first:
        compile_built(model, optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy())
        assert optimizer.built
    else:
        model.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy())
        assert not optimizer.built
    before = counter.calls
    losses = [float(np.asarray(model.train_on_batch(x, y))) for x, y in _batches()]
    return model, losses, counter.calls - before


def test_building_the_optimizer_first_traces_the_step_once_and_trains_the_same():
    lazy, lazy_losses, lazy_traces = _train(build_first=False)
    built, built_losses, built_traces = _train(build_first=True)
    if keras.backend.backend() == "tensorflow":
        # the lazily built optimizer creates variables in the first call: TensorFlow traces that call twice
        assert lazy_traces == 2, lazy_traces
        assert built_traces == 1, built_traces
    assert built_traces <= lazy_traces
    assert built_losses == lazy_losses
    for a, b in zip(lazy.get_weights(), built.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the same slots in the same order (the names differ only by Keras's _1 suffixes of a second model)
    assert [v.shape for v in lazy.optimizer.variables] == [v.shape for v in built.optimizer.variables]
    for a, b in zip(lazy.optimizer.variables, built.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_frozen_layers_get_no_optimizer_slots():
    model, _ = _model()
    model.layers[1].trainable = False  # the convolution
    compile_built(model, optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy")
    slots = [v.path for v in model.optimizer.variables if v.path.endswith(("_momentum", "_velocity"))]
    assert len(slots) == 2 * len(model.trainable_variables) == 2 * 2  # the dense kernel and bias only
