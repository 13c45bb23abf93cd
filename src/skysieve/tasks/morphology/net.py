"""The Inception-style network of Pérez-Carrasco et al. (2019), Table 1, in the engine's net registry.

80×80×1 → conv 7×7/64 → max-pool → conv 6×6/128 → max-pool → inception ×2 →
max-pool → inception ×3 → max-pool → inception → avg-pool 2×2 → conv 1×1/256 →
flatten → dense 1024 → dropout 0.5 → dense 1024 → dropout 0.5 → dense 5
softmax.  Batch normalisation on every layer before the fourth inception
module.  Each inception module concatenates a 1×1 convolution, a 1×1 → 3×3,
a 1×1 → 5×5 and a 3×3 max-pool → 1×1 branch (Szegedy et al. 2014).

Only built-in Keras layers are used, so the saved model loads anywhere Keras
does.  Layers are named ``block<k>_…`` for the eight convolutional blocks
(two convolutions, six inception modules) so a fine-tune can freeze the
first ``k`` (:func:`conv_blocks`).
"""

import keras

from skysieve.nets import InputSpec, register_net
from skysieve.tasks.morphology.params import InceptionParams

__all__ = ["INCEPTION_TABLE", "N_BLOCKS", "build_inception_morphology", "conv_blocks"]

#: Table 1 columns per module: 1×1 before 3×3, 3×3, 1×1 before 5×5, 5×5, 1×1, 1×1 after max-pool.
#: (Modules 1, 4 and 5 as printed sum to 240, 480 and 544 channels where the table's output column says
#: 256, 512 and 512: its columns are shifted there; the printed widths are used.)
INCEPTION_TABLE = (
    (96, 128, 16, 16, 64, 32),
    (128, 192, 32, 96, 128, 64),
    (96, 208, 16, 48, 192, 64),
    (112, 224, 24, 64, 128, 64),
    (144, 288, 32, 64, 128, 64),
    (144, 288, 32, 64, 112, 64),
)
#: Convolutional blocks a fine-tune can freeze: conv 1, conv 2, inception 1 … 6.
N_BLOCKS = 8


def _w(n: int, width: float) -> int:
    return max(2, int(round(n * width)))


def _conv(x, filters: int, size: int, *, name: str, bn: bool, padding: str = "same", momentum: float = 0.9):
    x = keras.layers.Conv2D(filters, size, padding=padding, use_bias=not bn, name=f"{name}_conv")(x)
    if bn:
        x = keras.layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _inception(x, widths: tuple[int, ...], *, width: float, name: str, bn: bool, momentum: float):
    r3, c3, r5, c5, c1, pp = (_w(n, width) for n in widths)
    b1 = _conv(x, c1, 1, name=f"{name}_1x1", bn=bn, momentum=momentum)
    b3 = _conv(_conv(x, r3, 1, name=f"{name}_3x3r", bn=bn, momentum=momentum), c3, 3, name=f"{name}_3x3", bn=bn,
               momentum=momentum)
    b5 = _conv(_conv(x, r5, 1, name=f"{name}_5x5r", bn=bn, momentum=momentum), c5, 5, name=f"{name}_5x5", bn=bn,
               momentum=momentum)
    bp = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv(bp, pp, 1, name=f"{name}_poolproj", bn=bn, momentum=momentum)
    return keras.layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])


@register_net("inception_morphology")
def build_inception_morphology(cfg: InceptionParams, *, inputs: InputSpec, seed: int,
                               n_classes: int = 5) -> keras.Model:
    """Build the Table 1 network at ``cfg.width`` × the paper's filters.

    Parameters
    ----------
    cfg : InceptionParams
    inputs : InputSpec
        Stamp shape (80, 80, 1) and the per-channel mean/variance the first
        layer standardises with.
    seed : int
        Seed of the dropout layers.
    n_classes : int, keyword-only
        Softmax outputs (the five CANDELS classes).

    Returns
    -------
    keras.Model
        (batch, ny, nx, 1) → (batch, n_classes) class probabilities (rows sum to one).
    """
    w = cfg.width
    image = keras.Input(shape=inputs.shape, name="stamp")
    x = keras.layers.Normalization(mean=list(inputs.mean), variance=list(inputs.variance), name="standardize")(image)
    bn = cfg.batchnorm_modules > 0
    x = _conv(x, _w(64, w), 7, name="block1", bn=bn, padding="valid", momentum=cfg.bn_momentum)
    x = keras.layers.MaxPooling2D(2, name="block1_pool")(x)
    x = _conv(x, _w(128, w), 6, name="block2", bn=bn, padding="valid", momentum=cfg.bn_momentum)
    x = keras.layers.MaxPooling2D(2, name="block2_pool")(x)
    for k, widths in enumerate(INCEPTION_TABLE):
        if k in (2, 5):
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"block{k + 2}_prepool")(x)
        x = _inception(x, widths, width=w, name=f"block{k + 3}", bn=k < cfg.batchnorm_modules,
                      momentum=cfg.bn_momentum)
    x = keras.layers.AveragePooling2D(2, name="head_avgpool")(x)
    x = _conv(x, _w(256, w), 1, name="head_1x1", bn=False)
    x = keras.layers.Flatten(name="head_flatten")(x)
    for i in (1, 2):
        x = keras.layers.Dense(cfg.dense_units, activation="relu", name=f"head_fc{i}")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, seed=seed + i, name=f"head_fc{i}_dropout")(x)
    proba = keras.layers.Dense(n_classes, activation="softmax", name="proba")(x)
    return keras.Model(image, proba, name="inception_morphology")


def conv_blocks(model: keras.Model) -> list[list[keras.layers.Layer]]:
    """The layers of each of the :data:`N_BLOCKS` convolutional blocks, input first (``block<k>_*``)."""
    blocks: list[list[keras.layers.Layer]] = [[] for _ in range(N_BLOCKS)]
    for layer in model.layers:
        head = layer.name.split("_", 1)[0]
        if head.startswith("block") and head[5:].isdigit():
            blocks[int(head[5:]) - 1].append(layer)
    return blocks
