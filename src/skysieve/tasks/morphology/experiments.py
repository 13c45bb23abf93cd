"""The paper's transfer experiments: RMSE vs labelled-set size (Fig. 4) and vs frozen depth (Fig. 5).

Each point is the test RMSE of a net trained on a random subset of the
target survey's labelled training images, repeated with different subsets
and seeds; from scratch and fine-tuned nets see the same subsets.  A fit
runs ``epochs`` epochs but at least ``min_steps`` optimiser steps,

    E(N) = max(epochs, ⌈min_steps / ⌈N / batch⌉⌉),

so a 40-image subset is trained for as many steps as a 300-image one
rather than for a tenth of them (both still stop early on the validation
split).  Every fit is independent of the others, so they run on worker
processes of ``fit_threads`` TensorFlow threads each
(:mod:`skysieve.tasks.morphology._fits`), each reusing one
compiled trainer per starting point (:class:`skysieve.train.SoftTrainer`):
the figures cost training, not graph tracing.
"""

import tempfile
from collections.abc import Callable

import keras
import numpy as np

from skysieve.nets import build_net
from skysieve.train import set_seeds
from skysieve.tasks.morphology._fits import FitContext, FitJob, make_context, run_fits
from skysieve.tasks.morphology.params import (
    ExperimentsMorphologyParams,
    FinetuneMorphologyParams,
    PretrainMorphologyParams,
)
from skysieve.tasks.morphology.transfer import Split, input_spec

__all__ = ["fit_epochs", "frozen_depth_jobs", "learning_curve_jobs", "transfer_experiments"]


def fit_epochs(n: int, *, batch_size: int, epochs: int, min_steps: int) -> int:
    """Epochs of a fit on ``n`` images: ``epochs``, raised so the fit makes at least ``min_steps`` steps."""
    steps_per_epoch = -(-n // batch_size)
    return max(epochs, -(-min_steps // steps_per_epoch))


def _subset(rng: np.random.Generator, n_total: int, size: int) -> np.ndarray:
    return np.sort(rng.choice(n_total, size=min(size, n_total), replace=False))


def _context(source: keras.Model, pre: PretrainMorphologyParams, ft: FinetuneMorphologyParams,
             cfg: ExperimentsMorphologyParams, train: Split, val: Split, test: Split, directory) -> FitContext:
    set_seeds(cfg.seed)  # the from-scratch initial weights follow the seed
    scratch_init = build_net(pre.net, inputs=input_spec(train.x), seed=cfg.seed).get_weights()
    return make_context(source, net=pre.net, augment=pre.augment, batch_size=ft.batch_size, patience=ft.patience,
                        build_seed=cfg.seed, scratch_weights=scratch_init, train=train, val=val, test=test,
                        directory=directory)


def learning_curve_jobs(pre: PretrainMorphologyParams, ft: FinetuneMorphologyParams,
                        cfg: ExperimentsMorphologyParams, n_train: int) -> list[tuple[int, int, FitJob]]:
    """``(size, repeat, job)`` of every learning-curve fit: per size and repeat, scratch then fine-tuned.

    The subsets are drawn in this order from ``cfg.seed``, so they do not
    depend on how the fits are run.
    """
    rng = np.random.default_rng(cfg.seed)
    out = []
    for size in cfg.sizes:
        for r in range(cfg.repeats):
            idx = _subset(rng, n_train, size)
            epochs = fit_epochs(len(idx), batch_size=ft.batch_size, epochs=cfg.epochs, min_steps=cfg.min_steps)
            seed = cfg.seed + 1000 * r + size
            out.append((len(idx), r, FitJob("scratch", 0, idx, pre.learning_rate, epochs, seed)))
            out.append((len(idx), r, FitJob("source", ft.frozen_depth, idx, pre.learning_rate * ft.lr_ratio,
                                            epochs, seed)))
    return out


def frozen_depth_jobs(pre: PretrainMorphologyParams, ft: FinetuneMorphologyParams,
                      cfg: ExperimentsMorphologyParams, n_train: int) -> list[tuple[int, int, FitJob]]:
    """``(depth, repeat, job)`` of every frozen-depth fit (fine-tuned, ``cfg.depth_size`` images each)."""
    rng = np.random.default_rng(cfg.seed + 1)
    out = []
    for depth in cfg.frozen_depths:
        for r in range(cfg.depth_repeats):
            idx = _subset(rng, n_train, cfg.depth_size or max(cfg.sizes))
            epochs = fit_epochs(len(idx), batch_size=ft.batch_size, epochs=cfg.epochs, min_steps=cfg.min_steps)
            out.append((int(depth), r, FitJob("source", int(depth), idx, pre.learning_rate * ft.lr_ratio, epochs,
                                              cfg.seed + 100 * r + depth)))
    return out


def transfer_experiments(source: keras.Model, pre: PretrainMorphologyParams, ft: FinetuneMorphologyParams,
                         cfg: ExperimentsMorphologyParams, train: Split, val: Split, test: Split, *,
                         workers: int = 1, progress: Callable = lambda it, **_: it) -> tuple[list[dict], list[dict]]:
    """Test RMSE of every learning-curve fit (scratch and fine-tuned) and every frozen-depth fit.

    Fine-tuning uses ``ft.frozen_depth`` and ``ft.lr_ratio`` on the learning
    curve; from scratch the pre-training learning rate.  Every fit stops
    early on the target validation split.  The fits run on ``workers``
    processes (:func:`~skysieve.tasks.morphology._fits.run_fits`, ``cfg.fit_threads``
    threads each); the rows are the same for any number of workers.

    Returns
    -------
    curve : list of dict
        ``mode`` (scratch / finetuned), ``size``, ``repeat``, ``rmse``, ``epochs``, ``seconds``.
    depth : list of dict
        ``frozen_depth``, ``repeat``, ``size``, ``rmse``.
    """
    curve_jobs = learning_curve_jobs(pre, ft, cfg, len(train.x))
    depth_jobs = frozen_depth_jobs(pre, ft, cfg, len(train.x))
    with tempfile.TemporaryDirectory(prefix="skysieve-morph-fits-") as tmp:
        ctx = _context(source, pre, ft, cfg, train, val, test, tmp)
        results = run_fits([j for *_, j in curve_jobs + depth_jobs], ctx, workers=workers, threads=cfg.fit_threads,
                           progress=progress, desc="transfer experiments")
    curve = [{"mode": "scratch" if job.start == "scratch" else "finetuned", "size": size, "repeat": r,
              "rmse": res["rmse"], "epochs": res["epochs"], "seconds": res["seconds"]}
             for (size, r, job), res in zip(curve_jobs, results)]
    depth = [{"frozen_depth": d, "repeat": r, "size": int(len(job.idx)), "rmse": res["rmse"]}
             for (d, r, job), res in zip(depth_jobs, results[len(curve_jobs):])]
    return curve, depth
