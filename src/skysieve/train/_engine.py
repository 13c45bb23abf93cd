"""The training engine: one model on one set of rows (:func:`fit_model`) and the hooks it reports to.

Pure of I/O beyond reading cutouts: progress goes to a :class:`TrainingObserver`
(MLflow logging, Optuna pruning live there, at the edges). The k folds and the
final fold ensemble are in :mod:`skysieve.train._crossval`.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from skysieve.config import OptimizerParams, TrainParams
from skysieve.errors import DataError
from skysieve.nets import InputSpec, build_net, preprocess
from skysieve.train._callbacks import _EpochEnd, _Monitor, _Plateau, _stages, _Warmup, search_metric
from skysieve.train._checkpoint import EpochState, FoldCheckpoint
from skysieve.train._compile import compile_built
from skysieve.train._dense import training_loss
from skysieve.train._ensemble import predict_dataset
from skysieve.train._seed import set_seeds
from skysieve.train._split import Fold
from skysieve.train._stored import split_input_layers, store_inputs
from skysieve.train._stream import TrainingBatches

if TYPE_CHECKING:
    from skysieve.train._crossval import FoldResult

__all__ = ["FitResult", "TrainingObserver", "channel_stats", "fit_model", "make_optimizer"]


class TrainingObserver:
    """Hooks the engine calls as it goes; the defaults do nothing.

    Subclasses log to MLflow or report to Optuna. An exception raised in a
    hook (``optuna.TrialPruned``) stops training and propagates.
    """

    def fold_started(self, fold: Fold) -> None:
        """Called before fold ``fold`` trains."""

    def epoch_ended(self, fold: Fold, step: int, logs: Mapping[str, float]) -> None:
        """Called after each epoch; ``step`` counts epochs across curriculum stages from 0."""

    def fold_ended(self, fold: Fold, result: "FoldResult") -> None:
        """Called when fold ``fold`` is trained and scored."""


@dataclass
class FitResult:
    """One trained model and its validation record.

    Attributes
    ----------
    model : keras.Model
    history : list of dict
        Per-epoch logs: ``loss``, ``val_loss`` (at the stage's ratio),
        ``val_log_loss``, ``val_pr_auc``, ``val_roc_auc``, ``val_f1``,
        ``learning_rate``, ``ratio``, ``stage``, and ``val_<metric>`` when
        ``monitor`` names a search's validation metric.
    best_epoch : int
        Index into ``history`` of the weights kept.
    val_scores : ndarray of shape (n_val,)
        Raw probabilities of the kept weights on the validation rows.
    images : int
        Training images seen.
    train_seconds : float
        Wall time spent in ``fit`` (training and per-epoch validation).
    resumed_epochs : int
        Epochs restored from a checkpoint rather than trained in this call
        (0 for a fit that started from scratch).
    """

    model: keras.Model
    history: list[dict[str, float]]
    best_epoch: int
    val_scores: np.ndarray
    images: int
    train_seconds: float
    resumed_epochs: int = 0


def make_optimizer(cfg: OptimizerParams) -> keras.optimizers.Optimizer:
    """The Keras optimiser named by ``cfg.name`` (SGD with momentum, Adam or Adadelta)."""
    wd = cfg.weight_decay or None
    if cfg.name == "sgd":
        return keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum, weight_decay=wd)
    if cfg.name == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=cfg.learning_rate, weight_decay=wd)
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate, weight_decay=wd)


def channel_stats(dataset, rows: np.ndarray, *, sample: int, seed: int, net: Any = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance of up to ``sample`` preprocessed cutouts of ``rows`` (one sorted read).

    The cutouts go through the layers the model applies before standardising
    (:func:`skysieve.nets.input_layers` of the architecture section ``net``:
    centring, colour differences), so there is one mean and variance per
    channel the model's ``Normalization`` sees.

    Returns
    -------
    mean, variance : ndarray of shape (nchan_model,)
    """
    rng = np.random.default_rng([seed, 7])
    pick = np.sort(rng.choice(rows, size=min(sample, rows.size), replace=False))
    x = preprocess(dataset.read(pick), net)
    mean = x.mean(axis=(0, 1, 2))
    var = np.maximum(x.var(axis=(0, 1, 2)), 1e-12)
    return mean, var


def fit_model(cfg: TrainParams, dataset, *, fit_rows: np.ndarray, val_rows: np.ndarray, seed: int,
              on_epoch=None, checkpoint: FoldCheckpoint | None = None) -> FitResult:
    """Train one network of ``cfg`` on ``fit_rows``, validating on ``val_rows`` every epoch.

    With the ``curriculum`` strategy, each ratio ``r`` of
    ``imbalance.curriculum_ratios`` is a stage of up to ``epochs`` epochs on
    batches oversampled to ``r`` negatives per positive, its validation loss
    weighted to the same ratio; each stage starts from the previous stage's
    best weights with the learning rate reset (and warmed up), and the weights
    kept in the end are those of the stage best on the whole validation set
    by ``cfg.metric``. Other strategies are one stage.

    Within a stage, early stopping, the learning-rate plateau and the epoch
    kept follow ``cfg.monitor``: the validation log-loss (``val_loss``), or a
    search's validation metric (``<search>.<metric>``,
    :meth:`skysieve.tasks.Search.validation_metric`, higher better) computed
    on the model's raw outputs on ``val_rows`` every epoch, recorded as
    ``val_<metric>``; that metric then also picks the curriculum stage.

    Parameters
    ----------
    cfg : TrainParams
    dataset : CutoutDataset
    fit_rows, val_rows : ndarray of int
    seed : int
        Seeds weights, batch order, augmentation and dropout.
    on_epoch : callable(step, logs), optional
        Called after every epoch; may raise to stop training. On a resumed
        fit it is first called for every epoch restored from the checkpoint.
    checkpoint : FoldCheckpoint, optional
        Saved after every epoch; if it holds a saved epoch, the fit goes on
        from there (same weights, optimizer state, learning rate, schedule
        counters, stage, batch plan and dropout state) instead of from zero.

    Returns
    -------
    FitResult
    """
    fit_rows, val_rows = np.asarray(fit_rows), np.asarray(val_rows)
    if val_rows.size == 0:
        raise DataError(f"{dataset.catalog_path}: no rows with split == 'val'; the engine validates on them "
                        "(early stopping, learning-rate plateau, Platt scaling) — re-make the cutouts with a val split")
    metric = search_metric(cfg.monitor)
    set_seeds(seed)
    mean, var = channel_stats(dataset, fit_rows, sample=cfg.norm_sample, seed=seed, net=cfg.net)
    spec = InputSpec(tuple(dataset.shape[1:]), mean, var, tuple(dataset.channels))
    model = build_net(cfg.net, inputs=spec, seed=seed)
    # With store_inputs the weightless input layers run once per cutout; the body (sharing model's layers) trains.
    split = split_input_layers(model) if cfg.store_inputs else None
    train_model, train_data = model, dataset
    if split is not None:
        head, train_model = split
        train_data = store_inputs(head, dataset, np.concatenate([fit_rows, val_rows]), batch_size=cfg.eval_batch_size)
    compile_built(train_model, optimizer=make_optimizer(cfg.optimizer), loss=training_loss(dataset))

    labels = dataset.labels
    y_fit, y_val = labels[fit_rows], labels[val_rows]
    n_pos, n_neg = max(int(y_fit.sum()), 1), max(int(y_fit.size - y_fit.sum()), 1)
    class_weight = None
    if cfg.imbalance.strategy == "class_weight":
        class_weight = (y_fit.size / (2 * n_neg), y_fit.size / (2 * n_pos))

    history: list[dict[str, float]] = []
    stage_best: list[tuple[float, int, list]] = []  # (selection metric, history index, weights)
    images, seconds = 0, 0.0
    saved = checkpoint.load_epoch() if checkpoint is not None else None
    if saved is not None:
        train_model, state = saved  # the body, with store_inputs: its weights go back into model at the end
        if split is None:
            model = train_model
        history, stage_best, images, seconds = list(state.history), list(state.stage_best), state.images, state.seconds
        if on_epoch is not None:
            for step, record in enumerate(history):
                on_epoch(step, record)
    resumed_epochs = len(history)
    for stage, ratio in enumerate(_stages(cfg)):
        if saved is not None and stage < state.stage:
            continue  # finished before the checkpoint; its best weights are in stage_best
        weights = None
        if ratio is not None:
            vp, vn = max(int(y_val.sum()), 1), max(int(y_val.size - y_val.sum()), 1)
            weights = np.where(y_val == 1, vn / (ratio * vp), 1.0)
        batches = TrainingBatches(
            train_data, fit_rows, batch_size=cfg.batch_size, seed=seed * 1000 + stage, steps=cfg.steps_per_epoch,
            augment_fraction=cfg.augment.fraction,
            positive_fraction=None if ratio is None else 1.0 / (1.0 + ratio), class_weight=class_weight,
        )
        monitor = _Monitor(dataset=train_data, rows=val_rows, labels=y_val, weights=weights,
                           batch_size=cfg.eval_batch_size, patience=cfg.schedule.early_stopping_patience,
                           step0=len(history), ratio=ratio, stage=stage, metric=metric)
        plateau_state, warmup_seen, first_epoch, stage_done = None, 0, 0, False
        if saved is not None and stage == state.stage:
            monitor.restore(state)  # the stage's epochs so far; the learning rate is in the optimizer
            history = history[: state.stage_start]
            plateau_state, warmup_seen = state.plateau, state.warmup_seen
            first_epoch, stage_done = state.epoch + 1, state.stage_done
            batches.start_at(first_epoch)
        else:
            train_model.optimizer.learning_rate = cfg.optimizer.learning_rate
        plateau = _Plateau(state=plateau_state, monitor=monitor.key, mode=monitor.mode,
                           factor=cfg.schedule.reduce_lr_factor,
                           patience=cfg.schedule.reduce_lr_patience, min_lr=cfg.schedule.min_learning_rate,
                           verbose=0)
        callbacks = [monitor, plateau]
        warmup = None
        if cfg.optimizer.warmup_steps > 0:
            warmup = _Warmup(cfg.optimizer.learning_rate, cfg.optimizer.warmup_steps,
                             cfg.optimizer.warmup_start_factor, seen=warmup_seen)
            callbacks.append(warmup)
        t0 = time.perf_counter()

        def snapshot(epoch: int, stopped: bool, *, stage=stage, before=history, monitor=monitor, plateau=plateau,
                     warmup=warmup, t0=t0, images=images, seconds=seconds) -> EpochState:
            return EpochState(
                stage=stage, epoch=epoch, stage_done=stopped or epoch + 1 >= cfg.epochs,
                history=[*before, *monitor.history], stage_start=len(before), best_loss=float(monitor.best_loss),
                best_index=monitor.best_index, wait=monitor.wait, best_weights=monitor.best_weights,
                stage_best=stage_best, plateau=plateau.state(), warmup_seen=warmup.seen if warmup else 0,
                images=images, seconds=seconds + time.perf_counter() - t0)

        callbacks.append(_EpochEnd(monitor, on_epoch=on_epoch, checkpoint=checkpoint, snapshot=snapshot))
        if not stage_done and first_epoch < cfg.epochs:
            train_model.fit(batches, epochs=cfg.epochs, initial_epoch=first_epoch, callbacks=callbacks, verbose=0,
                            shuffle=False)
        seconds += time.perf_counter() - t0
        images += len(monitor.history) * batches.steps * batches.batch_size
        train_model.set_weights(monitor.best_weights)
        best = monitor.history[monitor.best_index]
        select = monitor.key if metric is not None else f"val_{cfg.metric}"
        stage_best.append((best[select], len(history) + monitor.best_index, monitor.best_weights))
        history.extend(monitor.history)
    if len(stage_best) > 1:
        # Pick the stage best on the whole (un-reweighted) validation set; NaN metrics rank last.
        chosen = max(stage_best, key=lambda s: -np.inf if np.isnan(s[0]) else s[0])
        train_model.set_weights(chosen[2])
        best_index = chosen[1]
    else:
        best_index = stage_best[0][1]
    if train_model is not model:
        model.set_weights(train_model.get_weights())  # a resumed body is not model's; the same weights, in order
    val_scores = predict_dataset(model, dataset, val_rows, batch_size=cfg.eval_batch_size)
    return FitResult(model, history, best_index, val_scores, images, seconds, resumed_epochs)
