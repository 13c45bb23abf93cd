"""Pre-training, fine-tuning with frozen depth, training from scratch: one fit each, on arrays.

``pretrain`` fits the Table 1 net to the source survey's vote fractions;
``finetune`` starts from a (registered) source network, freezes its first
``frozen_depth`` convolutional blocks and trains the rest at
``lr_ratio`` × the pre-training learning rate; ``from_scratch`` fits a new
net to the same target images — the paper's comparison (Figs. 4, 5).
"""

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from skysieve.data import CutoutDataset
from skysieve.nets import InputSpec, build_net
from skysieve.train import (
    SoftFitResult,
    augment_stamps,
    fit_soft,
    freeze_blocks,
    predict_soft,
    set_seeds,
    soft_targets,
)
from skysieve.tasks.morphology.net import conv_blocks
from skysieve.tasks.morphology.params import (
    CLASSES,
    AugmentMorphologyParams,
    FinetuneMorphologyParams,
    PretrainMorphologyParams,
)

__all__ = ["TARGET_COLUMNS", "Split", "augmenter", "clone_network", "finetune", "from_scratch", "input_spec", "load_split",
           "predict", "pretrain"]

#: The catalog columns holding the vote fractions, in output order.
TARGET_COLUMNS = tuple(f"p_{c}" for c in CLASSES)


@dataclass
class Split:
    """Images and soft targets of one split: x (n, ny, nx, 1), y (n, 5), the catalog rows."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray

    def subset(self, idx: np.ndarray) -> "Split":
        """The rows ``idx`` of this split."""
        return Split(self.x[idx], self.y[idx], self.rows[idx])


def load_split(dataset: CutoutDataset, split: str) -> Split:
    """Read one split's labelled images and check its vote fractions (:func:`skysieve.train.soft_targets`)."""
    rows = dataset.indices(split)
    y = soft_targets(dataset.catalog[rows], TARGET_COLUMNS, where=f"{dataset.catalog_path} split '{split}'")
    return Split(dataset.read(rows), y, rows)


def augmenter(cfg: AugmentMorphologyParams) -> Callable:
    def augment(x, *, rng):
        return augment_stamps(x, rng=rng, rotate=cfg.rotate, flip=cfg.flip, shift_px=cfg.shift_px)

    return augment


def input_spec(x: np.ndarray) -> InputSpec:
    return InputSpec(shape=tuple(int(s) for s in x.shape[1:]), mean=x.mean(axis=(0, 1, 2)),
                     variance=np.maximum(x.var(axis=(0, 1, 2)), 1e-12), channels=("stamp",))


def pretrain(cfg: PretrainMorphologyParams, train: Split, val: Split, *,
             on_epoch: Callable | None = None) -> SoftFitResult:
    """Fit a new Table 1 net (``cfg.net``) to the source survey, Adam at ``cfg.learning_rate``."""
    set_seeds(cfg.seed)  # the initial weights follow the seed (unseeded Keras initialisers draw from ``random``)
    model = build_net(cfg.net, inputs=input_spec(train.x), seed=cfg.seed)
    return fit_soft(model, x_train=train.x, y_train=train.y, x_val=val.x, y_val=val.y,
                    learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, epochs=cfg.epochs,
                    patience=cfg.patience, seed=cfg.seed, augment=augmenter(cfg.augment), on_epoch=on_epoch)


def from_scratch(cfg: PretrainMorphologyParams, train: Split, val: Split, *, epochs: int, seed: int,
                 patience: int) -> SoftFitResult:
    """The same net and optimiser as :func:`pretrain`, trained on target images only."""
    set_seeds(seed)
    model = build_net(cfg.net, inputs=input_spec(train.x), seed=seed)
    return fit_soft(model, x_train=train.x, y_train=train.y, x_val=val.x, y_val=val.y,
                    learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, epochs=epochs, patience=patience,
                    seed=seed, augment=augmenter(cfg.augment))


def clone_network(source: keras.Model) -> keras.Model:
    """An independent copy of ``source`` with its weights (each fine-tune starts from the same point)."""
    copy = keras.models.clone_model(source)
    copy.set_weights(source.get_weights())
    return copy


def finetune(source: keras.Model, pre: PretrainMorphologyParams, cfg: FinetuneMorphologyParams, train: Split,
             val: Split, *, frozen_depth: int, lr_ratio: float, epochs: int, seed: int,
             on_epoch: Callable | None = None) -> SoftFitResult:
    """Fine-tune a copy of ``source``: freeze its first ``frozen_depth`` blocks, Adam at ``lr_ratio`` × pre-train rate.

    Raises
    ------
    skysieve.errors.DataError
        ``frozen_depth`` outside 0 … 8.
    """
    model = clone_network(source)
    freeze_blocks(conv_blocks(model), frozen_depth)
    return fit_soft(model, x_train=train.x, y_train=train.y, x_val=val.x, y_val=val.y,
                    learning_rate=pre.learning_rate * lr_ratio, batch_size=cfg.batch_size, epochs=epochs,
                    patience=cfg.patience, seed=seed, augment=augmenter(pre.augment), on_epoch=on_epoch)


def predict(model: keras.Model, split: Split) -> np.ndarray:
    """Class probabilities of a split's images, (n, 5)."""
    return predict_soft(model, split.x)
