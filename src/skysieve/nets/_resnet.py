"""DeepSZ's small ResNet (Lin et al. 2021, §2.2.1 and their Fig. 3)."""

import keras

from skysieve.config import ResNetSmallParams
from skysieve.nets._layers import standardize
from skysieve.nets._registry import InputSpec, register_net

__all__ = ["build_resnet_small"]


def _conv_bn(x, filters: int, kernel: int, *, strides: int = 1, relu: bool = True, name: str):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _bottleneck(x, filters: int, out_filters: int, *, strides: int, name: str):
    """1×1 (bottleneck) → 3×3 (stride) → 1×1 (expand) plus a shortcut, then ReLU."""
    shortcut = x
    if strides != 1 or x.shape[-1] != out_filters:
        shortcut = _conv_bn(x, out_filters, 1, strides=strides, relu=False, name=f"{name}_proj")
    y = _conv_bn(x, filters, 1, name=f"{name}_a")
    y = _conv_bn(y, filters, 3, strides=strides, name=f"{name}_b")
    y = _conv_bn(y, out_filters, 1, relu=False, name=f"{name}_c")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


@register_net("resnet_small")
def build_resnet_small(cfg: ResNetSmallParams, *, inputs: InputSpec, seed: int) -> keras.Model:
    """Build DeepSZ's modified ResNet-50 at a chosen depth and width.

    The 7×7 stem of ResNet-50 becomes two 3×3 Conv-BN-ReLU (stride 1, then 2)
    and a stride-2 max-pool; ``cfg.stages`` bottleneck stages follow (the first
    keeps the resolution, each later one halves it); the fifth stage is
    replaced by two dense layers of ``cfg.dense_units`` and one sigmoid unit
    (equivalent to DeepSZ's two-class softmax).

    Parameters
    ----------
    cfg : ResNetSmallParams
    inputs : InputSpec
        Cutout shape (ny, nx, nchan) and per-channel mean / variance for the
        input standardisation.
    seed : int
        Seed of the dropout layers.

    Returns
    -------
    keras.Model
        (batch, ny, nx, nchan) raw pixels → (batch, 1) probability.
    """
    image = keras.Input(shape=inputs.shape, name="cutout")
    x = standardize(image, inputs, cfg)
    x = _conv_bn(x, cfg.stem_filters, 3, strides=1, name="stem1")
    x = _conv_bn(x, cfg.stem_filters, 3, strides=2, name="stem2")
    x = keras.layers.MaxPooling2D(pool_size=2, strides=2, padding="same", name="stem_pool")(x)
    for stage in range(cfg.stages):
        filters = cfg.width * 2**stage
        for block in range(cfg.blocks_per_stage):
            strides = 2 if (stage > 0 and block == 0) else 1
            x = _bottleneck(x, filters, filters * cfg.expansion, strides=strides, name=f"s{stage + 1}b{block + 1}")
    if cfg.pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = keras.layers.Dense(cfg.dense_units, activation="relu", name=f"fc{i}")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, seed=seed + i, name=f"fc{i}_dropout")(x)
    proba = keras.layers.Dense(1, activation="sigmoid", name="proba")(x)
    return keras.Model(image, proba, name="resnet_small")
