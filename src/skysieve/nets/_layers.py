"""Custom layers (``keras.ops`` only, serialisable under the ``skysieve`` package)."""

import keras
from keras import ops

__all__ = ["ChannelSlice", "CutoutCentering", "standardize"]


@keras.saving.register_keras_serializable(package="skysieve")
class ChannelSlice(keras.layers.Layer):
    """Select one channel of an image tensor, keeping the channel axis.

    Parameters
    ----------
    index : int
        Channel to keep.

    Input shape (batch, ny, nx, nchan) → output shape (batch, ny, nx, 1).
    """

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def build(self, input_shape):
        nchan = input_shape[-1]
        if nchan is not None and not 0 <= self.index < nchan:
            raise ValueError(f"ChannelSlice index {self.index} out of range for {nchan} channels")
        self.built = True

    def call(self, inputs, training=None):
        return ops.expand_dims(ops.take(inputs, self.index, axis=-1), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="skysieve")
class CutoutCentering(keras.layers.Layer):
    """Subtract each cutout's spatial mean, per channel.

    x'(i, j, c) = x(i, j, c) − mean_ij x(i, j, c).  On mm-wave cutouts this
    removes the CMB's large-scale level (≈ 100 µK rms over 8′, against a
    cluster decrement of tens of µK), on optical ones the sky level.  It is
    part of the model, so raw cutouts go in everywhere (training, registry,
    catalog).

    Input and output shape (batch, ny, nx, nchan).
    """

    def call(self, inputs, training=None):
        return inputs - ops.mean(inputs, axis=(1, 2), keepdims=True)

    def compute_output_shape(self, input_shape):
        return input_shape


def standardize(image, inputs):
    """Centre each cutout (:class:`CutoutCentering`), then scale each channel by the training statistics.

    ``inputs.mean`` / ``inputs.variance`` must be statistics of *centred*
    cutouts (see :func:`skysieve.train.channel_stats`).
    """
    x = CutoutCentering(name="center")(image)
    return keras.layers.Normalization(mean=inputs.mean, variance=inputs.variance, name="standardize")(x)
