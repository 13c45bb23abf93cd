"""Compiling a network for training with its optimizer built up front (one trace of the training step)."""

import keras

__all__ = ["compile_built"]


def compile_built(model: keras.Model, *, optimizer: keras.optimizers.Optimizer, loss) -> None:
    """``model.compile(optimizer, loss)``, then create the optimizer's variables for the trainable weights now.

    With the TensorFlow backend and no distribution strategy, Keras defers
    building the optimizer to the first call of the traced training step, and
    a ``tf.function`` that creates variables on its first call is traced twice
    (once creating them, once more without).  Creating them here leaves one
    trace: the first step of the default morphology network takes 4.2 s
    instead of 9.6 s (``benchmarks/bench_first_step.py``).  The variables (zero moments, step 0) and so every step are the
    same, to the last bit (``tests/train/test_compile.py``).  The layers'
    ``trainable`` flags must be final when this is called, as for ``compile``.
    """
    model.compile(optimizer=optimizer, loss=loss)
    model.optimizer.build(model.trainable_variables)
