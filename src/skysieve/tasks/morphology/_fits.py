"""Independent fits of the transfer experiments, in this process or on worker processes.

Every point of the learning curve and of the frozen-depth curve is one fit
that depends only on ``(starting weights, frozen depth, training subset,
learning rate, epochs, seed)`` (:class:`skysieve.train.SoftTrainer` restarts
the weights, Adam and the dropout generators at every fit).  A :class:`FitJob`
names those; :func:`run_fits` runs a list of them and returns their results
in list order, so the tables do not depend on how many workers ran them.

A small network on 80×80 stamps keeps well under two cores busy (the
batches are too small for TensorFlow's intra-op threads), so ``workers``
processes run ``workers`` fits at once.  Workers are *spawned* (a forked
TensorFlow runtime is not safe); each builds its trainers once and reuses
them for every job it is given.

The fits always run on workers, one or many, each with TensorFlow limited to
``threads`` threads.  The thread count changes a fit's arithmetic (oneDNN
splits the weight-gradient sums by thread, so 1 and 2 threads differ in the
last bits), and the parent's TensorFlow is already started with one thread
per core; running every fit on a worker with the same thread count is what
makes the results independent of the number of workers — and of the
machine's core count.  One thread per fit is also the faster way to use the
cores: two one-thread fits on two cores train 1.2–1.3× more images per
second than two fits of two threads each (``docs/benchmarks.md``).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FitContext", "FitJob", "run_fits"]


@dataclass(frozen=True)
class FitJob:
    """One fit: ``start`` is ``"scratch"`` (the seeded initial weights) or ``"source"`` (the pre-trained net)."""

    start: str
    frozen_depth: int
    idx: np.ndarray
    learning_rate: float
    epochs: int
    seed: int


@dataclass
class FitContext:
    """What every fit shares: the data, the two starting points and the training settings."""

    net: object            # PretrainMorphologyParams.net (builds the from-scratch architecture)
    augment: object        # PretrainMorphologyParams.augment
    batch_size: int
    patience: int
    build_seed: int
    scratch_weights: list
    source_weights: list
    source_path: str       # the source network saved as .keras (its architecture, for the workers)
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


class _Runner:
    """Trainers built on first use, one per (start, frozen depth), fitting jobs against a shared context."""

    def __init__(self, ctx: FitContext):
        self.ctx = ctx
        self._trainers: dict = {}

    def _trainer(self, start: str, depth: int):
        import keras

        from skysieve.nets import build_net
        from skysieve.train import SoftTrainer, freeze_blocks
        from skysieve.tasks.morphology.net import conv_blocks
        from skysieve.tasks.morphology.transfer import input_spec

        key = (start, depth)
        if key not in self._trainers:
            if start == "scratch":
                model = build_net(self.ctx.net, inputs=input_spec(self.ctx.train_x), seed=self.ctx.build_seed)
            else:
                model = keras.models.clone_model(keras.models.load_model(self.ctx.source_path, compile=False))
                freeze_blocks(conv_blocks(model), depth)
            self._trainers[key] = SoftTrainer(model)
        return self._trainers[key]

    def __call__(self, job: FitJob) -> dict:
        from skysieve.metrics.multiclass import probability_rmse_loss
        from skysieve.train import predict_soft
        from skysieve.tasks.morphology.transfer import augmenter

        c = self.ctx
        weights = c.scratch_weights if job.start == "scratch" else c.source_weights
        fit = self._trainer(job.start, job.frozen_depth).fit(
            weights=weights, x_train=c.train_x[job.idx], y_train=c.train_y[job.idx], x_val=c.val_x, y_val=c.val_y,
            learning_rate=job.learning_rate, batch_size=c.batch_size, epochs=job.epochs, patience=c.patience,
            # no batch thread: the workers already keep every core busy, and a second thread per worker made
            # the default stage slower (348 s against 310 s, same day, same results)
            seed=job.seed, augment=augmenter(c.augment), prefetch=False)
        return {"rmse": probability_rmse_loss(c.test_y, predict_soft(fit.model, c.test_x)),
                "epochs": len(fit.history), "seconds": fit.train_seconds}


_WORKER: _Runner | None = None


def _init_worker(ctx: FitContext, threads: int) -> None:
    """Limit the backend to ``threads`` threads (before its runtime starts), keep the context, exit with the parent.

    Through the environment, read when the TensorFlow runtime starts (its
    first operation, in the first fit), so nothing here imports a backend.
    """
    import os

    from skysieve.train._parallel import watch_parent

    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    global _WORKER
    _WORKER = _Runner(ctx)
    watch_parent()


def _run_in_worker(job: FitJob) -> dict:
    assert _WORKER is not None
    return _WORKER(job)


def make_context(source, *, net, augment, batch_size: int, patience: int, build_seed: int, scratch_weights: list,
                 train, val, test, directory: Path) -> FitContext:
    """A :class:`FitContext`, saving ``source`` to ``directory`` so spawned workers can rebuild it."""
    path = Path(directory) / "source.keras"
    source.save(path)
    return FitContext(net=net, augment=augment, batch_size=batch_size, patience=patience, build_seed=build_seed,
                      scratch_weights=scratch_weights, source_weights=source.get_weights(), source_path=str(path),
                      train_x=train.x, train_y=train.y, val_x=val.x, val_y=val.y, test_x=test.x, test_y=test.y)


def run_fits(jobs: Sequence[FitJob], ctx: FitContext, *, workers: int = 1, threads: int = 1,
             progress: Callable = lambda it, **_: it, desc: str = "fits") -> list[dict]:
    """Run ``jobs`` and return one ``{"rmse", "epochs", "seconds"}`` per job, in job order.

    The jobs run on ``min(max(workers, 1), len(jobs))`` spawned processes of
    ``threads`` TensorFlow threads each, handed out one job at a time (the
    fits differ in length); the results are gathered in job order and do not
    depend on ``workers`` (they do on ``threads``).
    """
    if not jobs:
        return []
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(max(workers, 1), len(jobs)),
                             mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(ctx, threads)) as pool:
        return list(progress(pool.map(_run_in_worker, jobs, chunksize=1), desc=desc, total=len(jobs)))

