"""The receptive field of a built convolutional model, read from its layers."""

import re

import keras

__all__ = ["receptive_field_px"]


def receptive_field_px(model: keras.Model) -> int:
    """Side, in input pixels, of the region one unit of the last spatial feature map sees.

    Walks the layers in order through every convolution and pooling layer
    until the first layer that drops the spatial axes (``Flatten``, global
    pooling, ``Dense``), with the standard recursion

        r ← r + (k_eff − 1) · j,   j ← j · s,   k_eff = d (k − 1) + 1,

    (kernel k, dilation d, stride s, j the jump in input pixels between
    neighbouring units).  The layers of each SC-VGG tower (names starting
    ``band<i>_``) are followed separately, and the largest field returned.

    Parameters
    ----------
    model : keras.Model

    Returns
    -------
    int
        The theoretical receptive field, pixels (1 for a model without convolutions).
    """
    best, fields = 1, {}
    for layer in model.layers:
        kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        if kernel is None:
            continue
        tower = re.match(r"band\d+_", layer.name)  # SC-VGG towers: band0_…, band1_…
        prefix = tower.group(0) if tower else ""
        r, j = fields.get(prefix, (1, 1))
        stride = getattr(layer, "strides", None) or kernel
        dilation = getattr(layer, "dilation_rate", (1, 1))
        k_eff = dilation[0] * (kernel[0] - 1) + 1
        r, j = r + (k_eff - 1) * j, j * stride[0]
        fields[prefix] = (r, j)
        best = max(best, r)
    return int(best)
