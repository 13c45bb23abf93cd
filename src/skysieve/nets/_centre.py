"""A centre-heatmap object detector (CenterNet-style) on the Keras 3 functional API."""

import math

import keras

from skysieve.config import CentreNetParams
from skysieve.errors import ConfigError
from skysieve.nets._layers import standardize
from skysieve.nets._registry import InputSpec, register_net

__all__ = ["build_centre_net"]


def _conv(x, filters: int, *, name: str, strides: int = 1, dilation: int = 1):
    x = keras.layers.Conv2D(filters, 3, strides=strides, dilation_rate=dilation, padding="same", use_bias=False,
                            name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


@register_net("centre_net")
def build_centre_net(cfg: CentreNetParams, *, inputs: InputSpec, seed: int) -> keras.Model:
    r"""Build a centre-heatmap detector: encoder, dilated context, upsampling with skips, two heads.

    The encoder halves the resolution ``levels`` times (filters
    ``min(filters · 2^l, max_filters)``); ``context_convs`` dilated
    convolutions (rates 2, 4, …) widen the receptive field at the coarsest
    scale, where a galaxy cluster's members are spread; the decoder upsamples
    back to ``output_stride`` adding the encoder's map of the same scale.  The
    heatmap head ends in a sigmoid whose bias starts at
    :math:`-\log((1 - \pi) / \pi)` (``prior`` :math:`\pi`, as in focal-loss
    detectors); the size head outputs log box width and height in output pixels.

    Parameters
    ----------
    cfg : CentreNetParams
    inputs : InputSpec
        (ny, nx, nchan) with ny and nx multiples of ``2**levels``.
    seed : int
        Seeds the head initialisers.

    Returns
    -------
    keras.Model
        (batch, ny, nx, nchan) → (batch, ny / s, nx / s, 3): heatmap, log w, log h.

    Raises
    ------
    ConfigError
        ``output_stride`` is not a power of 2 no larger than ``2**levels``, or
        the input does not divide by ``2**levels``.
    """
    down = int(round(math.log2(cfg.output_stride)))
    if 2**down != cfg.output_stride or down > cfg.levels:
        raise ConfigError(f"net.output_stride must be a power of 2 ≤ 2**net.levels = {2**cfg.levels} "
                          f"(got {cfg.output_stride})")
    ny, nx = inputs.shape[:2]
    if ny % 2**cfg.levels or nx % 2**cfg.levels:
        raise ConfigError(f"net.levels = {cfg.levels}: the input {ny}×{nx} must divide by {2**cfg.levels}; "
                          "lower net.levels or change the window size")
    image = keras.Input(shape=inputs.shape, name="cutout")
    x = standardize(image, inputs, cfg)
    skips = {}
    for level in range(cfg.levels):
        filters = min(cfg.filters * 2**level, cfg.max_filters)
        x = _conv(x, filters, strides=2, name=f"enc{level + 1}_down")
        for j in range(cfg.convs_per_level - 1):
            x = _conv(x, filters, name=f"enc{level + 1}_c{j + 2}")
        skips[level + 1] = x
    filters = min(cfg.filters * 2 ** (cfg.levels - 1), cfg.max_filters)
    for j in range(cfg.context_convs):
        x = keras.layers.Add(name=f"ctx{j + 1}_add")([x, _conv(x, filters, dilation=2 ** (j + 1), name=f"ctx{j + 1}")])
    for level in range(cfg.levels - 1, down - 1, -1):
        if level == 0:
            break
        filters = min(cfg.filters * 2 ** (level - 1), cfg.max_filters)
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{level}_up")(x)
        x = keras.layers.Conv2D(filters, 1, name=f"dec{level}_proj")(x)
        x = keras.layers.Add(name=f"dec{level}_skip")([x, skips[level]])
        x = _conv(x, filters, name=f"dec{level}")
    init = keras.initializers.RandomNormal(stddev=0.01, seed=seed)
    bias = -math.log((1 - cfg.prior) / cfg.prior)
    h = keras.layers.Conv2D(cfg.head_filters, 3, padding="same", activation="relu", name="heat_hidden")(x)
    heat = keras.layers.Conv2D(1, 1, activation="sigmoid", kernel_initializer=init,
                               bias_initializer=keras.initializers.Constant(bias), name="heatmap")(h)
    s = keras.layers.Conv2D(cfg.head_filters, 3, padding="same", activation="relu", name="size_hidden")(x)
    size = keras.layers.Conv2D(2, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=seed + 1),
                               name="log_size")(s)
    out = keras.layers.Concatenate(name="detections")([heat, size])
    return keras.Model(image, out, name="centre_net")
