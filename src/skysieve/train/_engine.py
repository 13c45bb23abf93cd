"""The training engine: one model on one fold, k-fold cross-validation, the final fold ensemble.

Pure of I/O beyond reading cutouts: progress goes to a :class:`TrainingObserver`
(MLflow logging, Optuna pruning live there, at the edges).
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from skysieve.config import OptimizerParams, TrainParams
from skysieve.errors import DataError
from skysieve.nets import InputSpec, build_net, preprocess
from skysieve.train._calibrate import PlattCalibrator
from skysieve.train._callbacks import _EpochEnd, _Monitor, _Plateau, _stages, _Warmup, search_metric
from skysieve.train._checkpoint import EpochState, FoldCheckpoint, TrainingCheckpoint
from skysieve.train._dense import training_loss
from skysieve.train._ensemble import FoldEnsemble, predict_dataset
from skysieve.train._metrics import binary_log_loss, score_metrics
from skysieve.train._seed import set_seeds
from skysieve.train._split import Fold, make_folds
from skysieve.train._stream import TrainingBatches

__all__ = [
    "CrossValidation",
    "FitResult",
    "FoldResult",
    "TrainedEnsemble",
    "TrainingObserver",
    "channel_stats",
    "cross_validate",
    "fit_model",
    "make_optimizer",
    "train_ensemble",
]


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


@dataclass
class FoldResult:
    """A fold's scores and metrics (the model only if kept).

    Attributes
    ----------
    fold : Fold
    fit : FitResult
    oof_scores : ndarray of shape (len(fold.score_rows),)
        Raw probabilities on the held-out rows (out of fold).
    metrics : dict
        ``pr_auc``, ``roc_auc``, ``f1``, ``log_loss`` on the held-out rows and
        the same with a ``val_`` prefix on the validation rows.
    """

    fold: Fold
    fit: FitResult
    oof_scores: np.ndarray
    metrics: dict[str, float]


@dataclass
class CrossValidation:
    """Every fold of a cross-validation and the out-of-fold predictions.

    Attributes
    ----------
    folds : list of FoldResult
    oof_rows, oof_scores, oof_fold : ndarray
        Held-out row, its raw out-of-fold probability and the fold that scored it.
    """

    folds: list[FoldResult]
    oof_rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    oof_scores: np.ndarray = field(default_factory=lambda: np.empty(0))
    oof_fold: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def summary(self) -> dict[str, float]:
        """Mean and standard deviation across folds of every fold metric (``<name>_mean``, ``<name>_std``)."""
        out: dict[str, float] = {}
        for name in self.folds[0].metrics:
            values = np.array([f.metrics[name] for f in self.folds], dtype=np.float64)
            out[f"{name}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            out[f"{name}_std"] = float(np.nanstd(values)) if np.isfinite(values).any() else float("nan")
        return out


@dataclass
class TrainedEnsemble:
    """What :func:`train_ensemble` returns.

    Attributes
    ----------
    ensemble : FoldEnsemble
    cv : CrossValidation
    val_rows : ndarray of int
    val_raw, val_calibrated : ndarray
        Validation scores of the averaged ensemble before and after Platt scaling.
    metrics : dict
        Validation metrics of the ensemble (``val_*``) and the log-loss before
        calibration (``val_log_loss_raw``).
    """

    ensemble: FoldEnsemble
    cv: CrossValidation
    val_rows: np.ndarray
    val_raw: np.ndarray
    val_calibrated: np.ndarray
    metrics: dict[str, float]


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
    model.compile(optimizer=make_optimizer(cfg.optimizer), loss=training_loss(dataset))

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
        model, state = saved
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
            dataset, fit_rows, batch_size=cfg.batch_size, seed=seed * 1000 + stage, steps=cfg.steps_per_epoch,
            augment_fraction=cfg.augment.fraction,
            positive_fraction=None if ratio is None else 1.0 / (1.0 + ratio), class_weight=class_weight,
        )
        monitor = _Monitor(dataset=dataset, rows=val_rows, labels=y_val, weights=weights,
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
            model.optimizer.learning_rate = cfg.optimizer.learning_rate
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
            model.fit(batches, epochs=cfg.epochs, initial_epoch=first_epoch, callbacks=callbacks, verbose=0,
                      shuffle=False)
        seconds += time.perf_counter() - t0
        images += len(monitor.history) * batches.steps * batches.batch_size
        model.set_weights(monitor.best_weights)
        best = monitor.history[monitor.best_index]
        select = monitor.key if metric is not None else f"val_{cfg.metric}"
        stage_best.append((best[select], len(history) + monitor.best_index, monitor.best_weights))
        history.extend(monitor.history)
    if len(stage_best) > 1:
        # Pick the stage best on the whole (un-reweighted) validation set; NaN metrics rank last.
        chosen = max(stage_best, key=lambda s: -np.inf if np.isnan(s[0]) else s[0])
        model.set_weights(chosen[2])
        best_index = chosen[1]
    else:
        best_index = stage_best[0][1]
    val_scores = predict_dataset(model, dataset, val_rows, batch_size=cfg.eval_batch_size)
    return FitResult(model, history, best_index, val_scores, images, seconds, resumed_epochs)


def cross_validate(cfg: TrainParams, dataset, *, observer: TrainingObserver | None = None,
                   keep_models: bool = False, checkpoint: TrainingCheckpoint | None = None) -> CrossValidation:
    """Train one model per fold of ``cfg.splitter`` and score its held-out rows.

    Parameters
    ----------
    cfg : TrainParams
    dataset : CutoutDataset
    observer : TrainingObserver, optional
    keep_models : bool
        Keep each fold's Keras model in its result (for the final ensemble);
        otherwise models are dropped to free memory.
    checkpoint : TrainingCheckpoint, optional
        Each fold saves its progress there after every epoch and when it
        ends; a fold found finished is loaded instead of trained, a fold
        found part-trained goes on from its last epoch. The observer sees
        restored epochs as if they had just run.

    Returns
    -------
    CrossValidation
    """
    observer = observer or TrainingObserver()
    folds = make_folds(dataset, splitter=cfg.splitter, k=cfg.k_folds, seed=cfg.seed)
    val_rows = dataset.indices("val")
    labels = dataset.labels
    results = []
    for fold in folds:
        observer.fold_started(fold)
        fold_ckpt = checkpoint.fold(fold.index) if checkpoint is not None else None
        done = fold_ckpt.load_done() if fold_ckpt is not None else None
        if done is not None:
            for step, record in enumerate(done["history"]):
                observer.epoch_ended(fold, step, record)
            fit = FitResult(done["model"], done["history"], done["best_epoch"], done["val_scores"], done["images"],
                            done["train_seconds"], resumed_epochs=len(done["history"]))
        else:
            fit = fit_model(cfg, dataset, fit_rows=fold.fit_rows, val_rows=val_rows, seed=cfg.seed + fold.index,
                            on_epoch=lambda step, logs, fold=fold: observer.epoch_ended(fold, step, logs),
                            checkpoint=fold_ckpt)
            if fold_ckpt is not None:
                fold_ckpt.save_done(fit.model, history=fit.history, best_epoch=fit.best_epoch,
                                    val_scores=fit.val_scores, images=fit.images, train_seconds=fit.train_seconds,
                                    resumed_epochs=fit.resumed_epochs)
        oof = predict_dataset(fit.model, dataset, fold.score_rows, batch_size=cfg.eval_batch_size)
        metrics = score_metrics(labels[fold.score_rows], oof)
        metrics.update({f"val_{k}": v for k, v in score_metrics(labels[val_rows], fit.val_scores).items()})
        result = FoldResult(fold, fit, oof, metrics)
        observer.fold_ended(fold, result)
        if not keep_models:
            fit.model = None
            keras.backend.clear_session()
        results.append(result)
    return CrossValidation(
        results,
        oof_rows=np.concatenate([r.fold.score_rows for r in results]),
        oof_scores=np.concatenate([r.oof_scores for r in results]),
        oof_fold=np.concatenate([np.full(r.fold.score_rows.size, r.fold.index) for r in results]),
    )


def train_ensemble(cfg: TrainParams, dataset, *, observer: TrainingObserver | None = None,
                   checkpoint: TrainingCheckpoint | None = None) -> TrainedEnsemble:
    """Train the final model: the k fold models, averaged, Platt-scaled on the validation split.

    Parameters
    ----------
    cfg : TrainParams
    dataset : CutoutDataset
    observer : TrainingObserver, optional
    checkpoint : TrainingCheckpoint, optional
        Resume from it and save progress to it (see :func:`cross_validate`).

    Returns
    -------
    TrainedEnsemble
    """
    cv = cross_validate(cfg, dataset, observer=observer, keep_models=True, checkpoint=checkpoint)
    val_rows = dataset.indices("val")
    y_val = dataset.labels[val_rows]
    val_raw = np.mean([r.fit.val_scores for r in cv.folds], axis=0)
    calibrator = PlattCalibrator().fit(val_raw, y_val)
    val_cal = calibrator.predict_proba(val_raw)
    metrics = {f"val_{k}": v for k, v in score_metrics(y_val, val_cal).items()}
    metrics["val_log_loss_raw"] = binary_log_loss(y_val, val_raw)
    ensemble = FoldEnsemble([r.fit.model for r in cv.folds], calibrator)
    return TrainedEnsemble(ensemble, cv, val_rows, val_raw, val_cal, metrics)
