"""k-fold cross-validation and the final fold ensemble, the folds in turn or on worker processes.

:func:`cross_validate` fits one model per fold (:func:`skysieve.train.fit_model`)
and scores its held-out rows; with ``fold_workers`` above one the folds are
fitted at once on spawned processes (:mod:`skysieve.train._parallel`) with the
same results. :func:`train_ensemble` averages the fold models and Platt-scales
them on the validation split.
"""

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field

import keras
import numpy as np

from skysieve.config import TrainParams
from skysieve.train._calibrate import PlattCalibrator
from skysieve.train._checkpoint import FoldCheckpoint, TrainingCheckpoint
from skysieve.train._engine import FitResult, TrainingObserver, fit_model
from skysieve.train._ensemble import FoldEnsemble, predict_dataset
from skysieve.train._metrics import binary_log_loss, score_metrics
from skysieve.train._parallel import FoldPool, FoldWorkers, fold_workers
from skysieve.train._split import Fold, make_folds

__all__ = ["CrossValidation", "FoldResult", "TrainedEnsemble", "cross_validate", "train_ensemble"]

_log = logging.getLogger("skysieve.train")


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


def _train_fold(cfg: TrainParams, dataset, fold: Fold, val_rows: np.ndarray, *, on_epoch=None,
                checkpoint: FoldCheckpoint | None = None) -> tuple[FitResult, np.ndarray]:
    """Fit fold ``fold`` (seed ``cfg.seed + fold.index``), save it finished in ``checkpoint``, score its held-out rows.

    The one step a fold takes, in this process or on a worker (:mod:`skysieve.train._parallel`).
    """
    fit = fit_model(cfg, dataset, fit_rows=fold.fit_rows, val_rows=val_rows, seed=cfg.seed + fold.index,
                    on_epoch=on_epoch, checkpoint=checkpoint)
    if checkpoint is not None:
        checkpoint.save_done(fit.model, history=fit.history, best_epoch=fit.best_epoch, val_scores=fit.val_scores,
                             images=fit.images, train_seconds=fit.train_seconds, resumed_epochs=fit.resumed_epochs)
    oof = predict_dataset(fit.model, dataset, fold.score_rows, batch_size=cfg.eval_batch_size)
    return fit, oof


def cross_validate(cfg: TrainParams, dataset, *, observer: TrainingObserver | None = None,
                   keep_models: bool = False, checkpoint: TrainingCheckpoint | None = None,
                   workers: FoldWorkers | None = None) -> CrossValidation:
    """Train one model per fold of ``cfg.splitter`` and score its held-out rows.

    With ``cfg.fold_workers`` resolving to more than one process (0: one
    per core, at most k), the folds still to fit are fitted at once on
    spawned worker processes (:class:`skysieve.train._parallel.FoldPool`).
    A fold depends only on the params, the data, the fold and its seed, so
    the models, scores and metrics are those of the folds fitted one after
    another. The observer sees the same calls in the same order either way
    (``fold_started``, every epoch, ``fold_ended``, fold by fold); with
    workers, a fold's epochs reach it when the fold and those before it
    are fitted, so an exception it raises (``optuna.TrialPruned``) stops
    the cross-validation there, at the same step, but only after the
    compute of the folds fitted alongside was spent.

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
    workers : FoldWorkers, optional
        Worker processes to fit the folds on, kept by the caller across
        cross-validations of ``dataset`` (:func:`skysieve.tune.run_tune`
        keeps one set for a whole study); used when ``cfg.fold_workers``
        resolves to more than one. Default: processes started for this call.

    Returns
    -------
    CrossValidation
    """
    observer = observer or TrainingObserver()
    folds = make_folds(dataset, splitter=cfg.splitter, k=cfg.k_folds, seed=cfg.seed)
    val_rows = dataset.indices("val")
    labels = dataset.labels
    finished = set(checkpoint.finished_folds()) if checkpoint is not None else set()
    todo = [fold for fold in folds if fold.index not in finished]
    n_workers = fold_workers(cfg.fold_workers, len(todo))
    pool = None
    if n_workers > 1:
        if workers is not None and workers.dataset is not dataset:
            raise ValueError("cross_validate: `workers` were started for another dataset")
        pool = FoldPool(workers or FoldWorkers(dataset, workers=n_workers), cfg, todo, val_rows=val_rows,
                        checkpoint=checkpoint, keep_models=keep_models, n_folds=len(folds), owned=workers is None)
    results = []
    with pool if pool is not None else nullcontext():
        for fold in folds:
            observer.fold_started(fold)
            fold_ckpt = checkpoint.fold(fold.index) if checkpoint is not None else None
            done = fold_ckpt.load_done() if fold_ckpt is not None and fold.index in finished else None
            if done is not None:
                for step, record in enumerate(done["history"]):
                    observer.epoch_ended(fold, step, record)
                fit = FitResult(done["model"], done["history"], done["best_epoch"], done["val_scores"],
                                done["images"], done["train_seconds"], resumed_epochs=len(done["history"]))
                oof = predict_dataset(fit.model, dataset, fold.score_rows, batch_size=cfg.eval_batch_size)
                _log.info("fold %d/%d restored from its checkpoint", fold.index + 1, len(folds))
            elif pool is not None and fold.index in pool:
                fit, oof = pool.result(fold)
                for step, record in enumerate(fit.history):
                    observer.epoch_ended(fold, step, record)
            else:
                fit, oof = _train_fold(cfg, dataset, fold, val_rows, checkpoint=fold_ckpt,
                                       on_epoch=lambda step, logs, fold=fold: observer.epoch_ended(fold, step, logs))
                _log.info("fold %d/%d fitted: %d epoch(s), %.0f s", fold.index + 1, len(folds), len(fit.history),
                          fit.train_seconds)
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
    ensemble = FoldEnsemble([r.fit.model for r in cv.folds], None, tta=cfg.tta)
    if cfg.tta:
        # the scores the calibrator will see: averaged over the eight views, as the model predicts them
        val_raw = predict_dataset(ensemble, dataset, val_rows, batch_size=cfg.eval_batch_size, raw=True)
    else:
        val_raw = np.mean([r.fit.val_scores for r in cv.folds], axis=0)
    calibrator = PlattCalibrator().fit(val_raw, y_val)
    ensemble.calibrator = calibrator
    val_cal = calibrator.predict_proba(val_raw)
    metrics = {f"val_{k}": v for k, v in score_metrics(y_val, val_cal).items()}
    metrics["val_log_loss_raw"] = binary_log_loss(y_val, val_raw)
    return TrainedEnsemble(ensemble, cv, val_rows, val_raw, val_cal, metrics)
