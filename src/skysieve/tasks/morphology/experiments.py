"""The paper's transfer experiments: RMSE vs labelled-set size (Fig. 4) and vs frozen depth (Fig. 5).

Each point is the test RMSE of a net trained on a random subset of the
target survey's labelled training images, repeated with different subsets
and seeds; from scratch and fine-tuned nets see the same subsets.  A fit
runs ``epochs`` epochs but at least ``min_steps`` optimiser steps,

    E(N) = max(epochs, ⌈min_steps / ⌈N / batch⌉⌉),

so a 40-image subset is trained for as many steps as a 300-image one
rather than for a tenth of them (both still stop early on the validation
split).  One
compiled trainer serves every repeat of a curve
(:class:`skysieve.train.SoftTrainer`), so the figures cost training, not
graph tracing.
"""

from collections.abc import Callable

import keras
import numpy as np

from skysieve.metrics.multiclass import probability_rmse_loss
from skysieve.nets import build_net
from skysieve.train import SoftTrainer, freeze_blocks, predict_soft, set_seeds
from skysieve.tasks.morphology.net import conv_blocks
from skysieve.tasks.morphology.params import (
    ExperimentsMorphologyParams,
    FinetuneMorphologyParams,
    PretrainMorphologyParams,
)
from skysieve.tasks.morphology.transfer import Split, augmenter, input_spec, clone_network

__all__ = ["fit_epochs", "frozen_depth_curve", "learning_curve"]


def fit_epochs(n: int, *, batch_size: int, epochs: int, min_steps: int) -> int:
    """Epochs of a fit on ``n`` images: ``epochs``, raised so the fit makes at least ``min_steps`` steps."""
    steps_per_epoch = -(-n // batch_size)
    return max(epochs, -(-min_steps // steps_per_epoch))


def _subset(rng: np.random.Generator, n_total: int, size: int) -> np.ndarray:
    return np.sort(rng.choice(n_total, size=min(size, n_total), replace=False))


def learning_curve(source: keras.Model, pre: PretrainMorphologyParams, ft: FinetuneMorphologyParams,
                   cfg: ExperimentsMorphologyParams, train: Split, val: Split, test: Split, *,
                   progress: Callable = lambda it, **_: it) -> list[dict]:
    """Test RMSE of from-scratch and fine-tuned nets for every size × repeat (rows of a table).

    Fine-tuning uses ``ft.frozen_depth`` and ``ft.lr_ratio``; from scratch the
    pre-training learning rate.  Both stop early on the target validation split.
    """
    set_seeds(cfg.seed)  # the from-scratch initial weights follow the seed
    scratch_model = build_net(pre.net, inputs=input_spec(train.x), seed=cfg.seed)
    scratch_init = scratch_model.get_weights()
    scratch = SoftTrainer(scratch_model)
    tuned_model = clone_network(source)
    freeze_blocks(conv_blocks(tuned_model), ft.frozen_depth)
    tuned = SoftTrainer(tuned_model)
    source_weights = source.get_weights()
    rng = np.random.default_rng(cfg.seed)
    rows = []
    jobs = [(size, r) for size in cfg.sizes for r in range(cfg.repeats)]
    for size, r in progress(jobs, desc="learning curve"):
        idx = _subset(rng, len(train.x), size)
        sub = train.subset(idx)
        seed = cfg.seed + 1000 * r + size
        for mode, trainer, weights, lr in (("scratch", scratch, scratch_init, pre.learning_rate),
                                           ("finetuned", tuned, source_weights, pre.learning_rate * ft.lr_ratio)):
            fit = trainer.fit(weights=weights, x_train=sub.x, y_train=sub.y, x_val=val.x, y_val=val.y,
                              learning_rate=lr, batch_size=ft.batch_size, patience=ft.patience,
                              epochs=fit_epochs(len(idx), batch_size=ft.batch_size, epochs=cfg.epochs,
                                                min_steps=cfg.min_steps),
                              seed=seed, augment=augmenter(pre.augment))
            rmse = probability_rmse_loss(test.y, predict_soft(fit.model, test.x))
            rows.append({"mode": mode, "size": int(len(idx)), "repeat": r, "rmse": rmse,
                         "epochs": len(fit.history), "seconds": fit.train_seconds})
    return rows


def frozen_depth_curve(source: keras.Model, pre: PretrainMorphologyParams, ft: FinetuneMorphologyParams,
                       cfg: ExperimentsMorphologyParams, train: Split, val: Split, test: Split, *,
                       progress: Callable = lambda it, **_: it) -> list[dict]:
    """Test RMSE of fine-tuned nets with the first d blocks frozen, for each d of ``cfg.frozen_depths``."""
    rng = np.random.default_rng(cfg.seed + 1)
    source_weights = source.get_weights()
    rows = []
    for depth in progress(cfg.frozen_depths, desc="frozen depth"):
        model = clone_network(source)
        freeze_blocks(conv_blocks(model), depth)
        trainer = SoftTrainer(model)
        for r in range(cfg.depth_repeats):
            idx = _subset(rng, len(train.x), cfg.depth_size or max(cfg.sizes))
            sub = train.subset(idx)
            fit = trainer.fit(weights=source_weights, x_train=sub.x, y_train=sub.y, x_val=val.x, y_val=val.y,
                              learning_rate=pre.learning_rate * ft.lr_ratio, batch_size=ft.batch_size,
                              epochs=fit_epochs(len(idx), batch_size=ft.batch_size, epochs=cfg.epochs,
                                                min_steps=cfg.min_steps),
                              patience=ft.patience, seed=cfg.seed + 100 * r + depth,
                              augment=augmenter(pre.augment))
            rows.append({"frozen_depth": int(depth), "repeat": r, "size": int(len(idx)),
                         "rmse": probability_rmse_loss(test.y, predict_soft(fit.model, test.x))})
    return rows
