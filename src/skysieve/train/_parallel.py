"""The folds of a cross-validation fitted at once, on spawned worker processes.

A fold's fit depends only on ``(params, data, fold, seed)``:
:func:`~skysieve.train.fit_model` seeds Python, NumPy and Keras from
``seed = cfg.seed + fold`` when it starts, and batch plans, augmentation and
dropout from the same seed. So the k folds can be fitted at once, in any
order, on any process, and give the models, scores and metrics that fitting
them one after another gives (``tests/train/test_parallel.py`` compares one
and two workers exactly). A Keras fit of a small net on small batches keeps
about one core busy, so ``w`` worker processes fit up to ``w`` folds at once.

Workers are *spawned* (a forked TensorFlow runtime is not safe); each opens
the cutouts itself and returns, per fold, the :class:`FitResult` (per-epoch
history, best epoch, validation scores, timings), the out-of-fold scores and,
when asked, the model (pickled by Keras itself). Nothing in a worker touches
MLflow or Optuna: the parent replays each fold's epochs to the
:class:`~skysieve.train.TrainingObserver` in fold order, so one process writes
the tracking store and the pruner sees the same steps as from one process.
A worker writes the fold's checkpoint (``FoldCheckpoint``: per epoch if asked,
and the finished fold) as the single-process path does.

The processes (:class:`FoldWorkers`) start TensorFlow once and may serve
many cross-validations of one dataset: ``skysieve tune`` keeps one set for all
the trials it runs. A worker exits as soon as its parent dies (a killed ``skysieve train`` leaves no
orphan writing into the checkpoint it will resume) and as soon as the parent
stops the cross-validation (pruned trial, error, Ctrl-C): folds still being
fitted then are abandoned, the epochs they had checkpointed kept.
"""

import logging
import multiprocessing
import os
import pickle
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from skysieve._cpus import available_cpus
from skysieve.errors import SkysieveError
from skysieve.train._checkpoint import FoldCheckpoint
from skysieve.train._split import Fold

__all__ = ["FoldPool", "FoldWorkers", "available_cpus", "fold_workers", "watch_parent"]

_log = logging.getLogger("skysieve.train")

#: Seconds between a worker's checks that its parent is alive and wants its folds.
_WATCH_S = 0.5


def fold_workers(requested: int, n_folds: int, *, cpus: int | None = None) -> int:
    """How many processes fit ``n_folds`` folds: ``requested``, or ``min(n_folds, cpus)`` for 0; at most ``n_folds``.

    Parameters
    ----------
    requested : int
        ``TrainParams.fold_workers`` (0: one per core).
    n_folds : int
    cpus : int, optional
        Default :func:`available_cpus`.
    """
    n = requested or min(n_folds, cpus or available_cpus())
    return max(1, min(n, n_folds))


@dataclass(frozen=True)
class _FoldJob:
    cfg: Any                                # TrainParams
    fold: Fold
    val_rows: np.ndarray
    checkpoint: FoldCheckpoint | None
    keep_model: bool


_DATASET: Any = None  # the worker process's cutouts, set once by _init_worker


def _watch(stop, parent) -> None:
    """Exit the worker when the parent sets ``stop`` (a shared flag) or dies (its sentinel pipe closes).

    A plain flag in shared memory, not a ``multiprocessing.Event``: setting an
    event waits for every process sleeping on it to wake, and a worker killed
    while waiting (out of memory) would never wake.
    """
    while not (stop is not None and stop.value) and parent.is_alive():
        parent.join(_WATCH_S)  # returns at once when the parent exits
    os._exit(1)


def watch_parent(stop=None) -> None:
    """In a spawned worker: exit within 0.5 s of the parent's death (or of ``stop.value`` becoming true).

    Without it a worker whose parent was killed keeps fitting, holding its
    core and writing where a rerun will write.
    """
    threading.Thread(target=_watch, args=(stop, multiprocessing.parent_process()), daemon=True,
                     name="skysieve-parent-watch").start()


def _init_worker(dataset, stop) -> None:
    """Keep the cutouts for the jobs; watch the parent.

    TensorFlow's thread pools are left at their default (one thread per core,
    as in the parent), so a fold's arithmetic is that of the single-process
    path; other thread counts were not checked for identical results.
    """
    global _DATASET
    _DATASET = dataset
    watch_parent(stop)


def _run_job(job: _FoldJob):
    """Fit one fold in a worker: ``(FitResult, oof_scores)``, the model kept only if asked."""
    import keras

    from skysieve.train._crossval import _train_fold

    keras.backend.clear_session()  # the previous fold's graphs
    try:
        fit, oof = _train_fold(job.cfg, _DATASET, job.fold, job.val_rows, checkpoint=job.checkpoint)
    except BaseException as exc:
        # The parent re-raises what arrives here; an exception that does not survive pickling
        # would otherwise reach it as a BrokenProcessPool with the message lost.
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:  # noqa: BLE001 - any failure to round-trip
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise
    if not job.keep_model:
        fit.model = None
    return fit, oof


class FoldWorkers:
    """Spawned processes that fit folds of one dataset, kept across cross-validations (a study's trials).

    The processes start on the first :meth:`submit`, so they pay TensorFlow's
    start-up once for all the cross-validations that use them. :meth:`stop`
    ends them at once (the next :meth:`submit` starts new ones); :meth:`close`,
    or leaving the ``with`` block, ends them when their folds are done.

    Parameters
    ----------
    dataset : CutoutDataset
        Pickled once to each process.
    workers : int
        Processes (at least 2).
    """

    def __init__(self, dataset, *, workers: int):
        self.dataset, self.workers = dataset, workers
        self._pool: ProcessPoolExecutor | None = None
        self._stop = None

    def submit(self, job: _FoldJob) -> Future:
        """Queue ``job``; its future gives ``(FitResult, oof_scores)``."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._stop = context.RawValue("b", 0)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=_init_worker, initargs=(self.dataset, self._stop))
        return self._pool.submit(_run_job, job)

    def stop(self) -> None:
        """End the processes now, abandoning the folds they are fitting and those queued."""
        if self._pool is not None:
            self._stop.value = 1  # each process exits within _WATCH_S, whatever it is doing
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """End the processes once the folds submitted are done."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "FoldWorkers":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.stop()
        else:
            self.close()


class FoldPool:
    """One cross-validation's folds fitted on :class:`FoldWorkers`, submitted on entering; results by fold.

    Use as a context manager. Leaving it because of an exception (a pruned
    trial, an observer's error, Ctrl-C) stops the workers at once, abandoning
    the folds not yet fitted: their compute up to then is lost, which fitting
    folds one after another would not have spent (the next cross-validation
    starts new workers).

    Parameters
    ----------
    workers : FoldWorkers
    cfg : TrainParams
    folds : list of Fold
        The folds to fit there (submitted in this order).
    val_rows : ndarray of int
    checkpoint : TrainingCheckpoint, optional
        Each fold's :class:`FoldCheckpoint` is written by its worker.
    keep_models : bool
        Send each fold's model back (else only its scores and history).
    n_folds : int, optional
        Folds of the whole cross-validation (for the log lines); default ``len(folds)``.
    owned : bool
        Close ``workers`` on leaving (they were started for this cross-validation only).
    """

    def __init__(self, workers: FoldWorkers, cfg, folds: list[Fold], *, val_rows: np.ndarray, checkpoint=None,
                 keep_models: bool = False, n_folds: int | None = None, owned: bool = False):
        self.workers, self.cfg, self.folds, self.val_rows = workers, cfg, list(folds), val_rows
        self.checkpoint, self.keep_models, self.owned = checkpoint, keep_models, owned
        self.n_folds = n_folds or len(self.folds)
        self._futures: dict[int, Future] = {}

    def __contains__(self, fold_index: int) -> bool:
        return fold_index in self._futures

    def __enter__(self) -> "FoldPool":
        for fold in self.folds:
            job = _FoldJob(self.cfg, fold, self.val_rows,
                           None if self.checkpoint is None else self.checkpoint.fold(fold.index), self.keep_models)
            future = self.workers.submit(job)
            future.add_done_callback(lambda f, i=fold.index, n=self.n_folds: _log_fold(f, i, n))
            self._futures[fold.index] = future
        return self

    def result(self, fold: Fold):
        """``(FitResult, oof_scores)`` of ``fold``, waiting for its worker; a worker's exception is raised here.

        Raises
        ------
        SkysieveError
            If the worker process died (killed from outside, out of memory).
        """
        try:
            return self._futures[fold.index].result()
        except BrokenProcessPool as exc:
            raise SkysieveError(
                f"fold {fold.index}: the worker process fitting it died ({exc}); killed from outside or out of "
                f"memory? Each of the {self.workers.workers} workers holds one fold's model and batches: set "
                "fold_workers: 1 in the train section to fit the folds one after another in this process") from exc

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.workers.stop()
        elif self.owned:
            self.workers.close()


def _log_fold(future: Future, index: int, n: int) -> None:
    """One log line per fold fitted by a worker (in the order they finish)."""
    if future.cancelled() or future.exception() is not None:
        return
    fit, _ = future.result()
    _log.info("fold %d/%d fitted on a worker process: %d epoch(s), %.0f s", index + 1, n, len(fit.history),
              fit.train_seconds)
