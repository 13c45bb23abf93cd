"""Angora et al. VGG-like networks: ``vgg`` (2020, appendix B) and ``sc_vgg`` (2023, §2)."""

import keras

from skysieve.config import ScVggParams, VggParams
from skysieve.nets._layers import ChannelSlice, standardize
from skysieve.nets._registry import InputSpec, register_net

__all__ = ["build_sc_vgg", "build_vgg"]


def _vgg_tower(x, cfg: VggParams, *, seed: int, prefix: str):
    """Conv blocks, flatten, two dense layers with dropout, one sigmoid unit."""
    for block in range(cfg.blocks):
        filters = min(cfg.filters * 2**block, cfg.max_filters)
        for conv in range(cfg.convs_per_block):
            name = f"{prefix}b{block + 1}c{conv + 1}"
            x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
            x = keras.layers.LeakyReLU(negative_slope=cfg.negative_slope, name=f"{name}_lrelu")(x)
        x = keras.layers.MaxPooling2D(pool_size=2, padding="same", name=f"{prefix}b{block + 1}_pool")(x)
    x = keras.layers.Flatten(name=f"{prefix}flatten")(x)
    for i in (1, 2):
        x = keras.layers.Dense(cfg.dense_units, name=f"{prefix}fc{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope=cfg.negative_slope, name=f"{prefix}fc{i}_lrelu")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, seed=seed + i, name=f"{prefix}fc{i}_dropout")(x)
    return keras.layers.Dense(1, activation="sigmoid", name=f"{prefix}proba")(x)


@register_net("vgg")
def build_vgg(cfg: VggParams, *, inputs: InputSpec, seed: int) -> keras.Model:
    """Build the VGG-like classifier of Angora et al. (2020), table B.1, at a chosen size.

    Blocks of 3×3 Conv + LeakyReLU closed by a 2×2 max-pool (filters doubling
    per block up to ``cfg.max_filters``), then two dense + LeakyReLU +
    dropout layers and a sigmoid unit. All bands enter the first convolution
    together. With ``colour_difference`` the lens-light-free difference images
    (:class:`~skysieve.nets.ColourDifference`) enter as extra channels.

    Parameters
    ----------
    cfg : VggParams
    inputs : InputSpec
    seed : int
        Seed of the dropout layers.

    Returns
    -------
    keras.Model
        (batch, ny, nx, nchan) → (batch, 1) probability.
    """
    image = keras.Input(shape=inputs.shape, name="cutout")
    x = standardize(image, inputs, cfg)
    proba = _vgg_tower(x, cfg, seed=seed, prefix="")
    return keras.Model(image, proba, name="vgg")


@register_net("sc_vgg")
def build_sc_vgg(cfg: ScVggParams, *, inputs: InputSpec, seed: int) -> keras.Model:
    """Build the single-channel VGG of Angora et al. (2023).

    One VGG tower per band, each seeing only its own (standardised) band; the
    towers' probabilities are averaged into the output, so the loss — and every
    gradient — is taken on the average. With ``colour_difference`` each
    difference image (:class:`~skysieve.nets.ColourDifference`) gets a tower
    of its own too.

    Parameters
    ----------
    cfg : ScVggParams
    inputs : InputSpec
    seed : int

    Returns
    -------
    keras.Model
        (batch, ny, nx, nchan) → (batch, 1) mean of the towers' probabilities.
    """
    image = keras.Input(shape=inputs.shape, name="cutout")
    x = standardize(image, inputs, cfg)
    towers = []
    for c in range(x.shape[-1]):
        band = ChannelSlice(c, name=f"band{c}")(x)
        towers.append(_vgg_tower(band, cfg, seed=seed + 10 * c, prefix=f"band{c}_"))
    proba = keras.layers.Average(name="proba")(towers) if len(towers) > 1 else towers[0]
    return keras.Model(image, proba, name="sc_vgg")
