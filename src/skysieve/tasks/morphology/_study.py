"""Optuna over the transfer's frozen depth and learning-rate ratio (validation RMSE, minimised).

One trainer per frozen depth serves every trial at that depth
(:class:`skysieve.train.SoftTrainer`); each trial restarts from the source
weights.  The first trial is the params' ``frozen_depth`` and ``lr_ratio``.
With ``pruner: median`` a later trial stops at the end of an epoch ``e`` ≥
``warmup_epochs`` (0-based) when its best validation RMSE so far is worse
than the median of the finished trials' validation RMSE at epoch ``e``
(Optuna's ``MedianPruner``, the engine's default too).  A setting is then
ruled out in the few epochs that show it behind, not in a full fit; the
price is that a setting which starts slowly and would finish ahead can be
cut.  With ``n_trials = 0`` the params' values are used as they are.  With
``temperature`` the best trial's
network then gets a softmax temperature fitted on the validation split
(:func:`skysieve.train.fit_temperature`), baked into its output layer.
"""

from typing import Any

import numpy as np

from skysieve.metrics.multiclass import expected_calibration_error, probability_rmse_loss
from skysieve.train import SoftFitResult, SoftTrainer, bake_temperature, fit_temperature, freeze_blocks, predict_soft
from skysieve.tasks.morphology.net import conv_blocks
from skysieve.tasks.morphology.params import FinetuneMorphologyParams, PretrainMorphologyParams
from skysieve.tasks.morphology.transfer import Split, augmenter, clone_network

__all__ = ["tune_transfer"]


def tune_transfer(source: Any, pre: PretrainMorphologyParams, cfg: FinetuneMorphologyParams, train: Split,
                  val: Split, *, log: Any = None) -> tuple[dict, SoftFitResult]:
    """Search (frozen depth, lr ratio) with TPE; return the best params and the best trial's fitted model.

    Returns
    -------
    best : dict
        ``frozen_depth``, ``lr_ratio``, ``val_rmse``, ``n_trials``, ``n_pruned``, ``trials`` (each trial's
        values, ``state`` complete or pruned, the ``epochs`` it ran and its validation RMSE — for a pruned
        trial the best epoch's before it stopped).
    fit : SoftFitResult
        The best trial's network (weights of its best validation epoch).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trainers: dict[int, SoftTrainer] = {}
    weights = source.get_weights()
    best: dict[str, Any] = {"val_rmse": np.inf}
    kept: dict[str, Any] = {}
    trials: list[dict] = []

    def run(depth: int, ratio: float, number: int, trial: Any = None) -> float:
        if depth not in trainers:
            model = clone_network(source)
            freeze_blocks(conv_blocks(model), depth)
            trainers[depth] = SoftTrainer(model)
        prefix = f"trial{number}_"
        seen: list[float] = []

        def on_epoch(epoch: int, logs: dict) -> None:
            if log is not None:
                log.epoch(epoch, logs, prefix=prefix)
            seen.append(logs["val_rmse"])
            if trial is not None:
                trial.report(logs["val_rmse"], epoch)
                if trial.should_prune():
                    trials.append({"frozen_depth": depth, "lr_ratio": ratio, "val_rmse": min(seen),
                                   "state": "pruned", "epochs": epoch + 1})
                    raise optuna.TrialPruned(f"epoch {epoch}: validation RMSE {min(seen):.4f} so far")

        fit = trainers[depth].fit(weights=weights, x_train=train.x, y_train=train.y, x_val=val.x, y_val=val.y,
                                  learning_rate=pre.learning_rate * ratio, batch_size=cfg.batch_size,
                                  epochs=cfg.epochs, patience=cfg.patience, seed=cfg.seed + number,
                                  augment=augmenter(pre.augment), on_epoch=on_epoch)
        rmse = probability_rmse_loss(val.y, predict_soft(fit.model, val.x))
        trials.append({"frozen_depth": depth, "lr_ratio": ratio, "val_rmse": rmse, "state": "complete",
                       "epochs": len(fit.history)})
        if rmse < best["val_rmse"]:
            best.update(frozen_depth=depth, lr_ratio=ratio, val_rmse=rmse)
            kept["fit"] = SoftFitResult(model=clone_network(fit.model), history=fit.history,
                                        best_epoch=fit.best_epoch, images=fit.images,
                                        train_seconds=fit.train_seconds)
        return rmse

    if cfg.n_trials == 0:
        run(cfg.frozen_depth, cfg.lr_ratio, 0)
    else:
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=cfg.warmup_epochs)
                  if cfg.pruner == "median" else optuna.pruners.NopPruner())
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=cfg.seed),
                                    pruner=pruner)
        study.enqueue_trial({"frozen_depth": cfg.frozen_depth, "lr_ratio": cfg.lr_ratio})
        study.optimize(lambda t: run(t.suggest_categorical("frozen_depth", list(cfg.depth_choices)),
                                     t.suggest_float("lr_ratio", *cfg.lr_ratio_range, log=True), t.number, t),
                       n_trials=cfg.n_trials)
    fit = kept["fit"]
    n_pruned = sum(t["state"] == "pruned" for t in trials)
    if cfg.temperature:
        p_val = predict_soft(fit.model, val.x)
        best["temperature"] = fit_temperature(p_val, val.y)
        best["val_ece_raw"] = expected_calibration_error(val.y, p_val)
        bake_temperature(fit.model, best["temperature"])
        p_val = predict_soft(fit.model, val.x)
        best["val_ece"] = expected_calibration_error(val.y, p_val)
        best["val_rmse_raw"], best["val_rmse"] = best["val_rmse"], probability_rmse_loss(val.y, p_val)
    if log is not None:
        log.metrics({"best_val_rmse": best["val_rmse"], "best_frozen_depth": best["frozen_depth"],
                     "best_lr_ratio": best["lr_ratio"], "n_pruned_trials": n_pruned,
                     **{k: best[k] for k in ("temperature", "val_ece_raw", "val_ece") if k in best}})
    return {**best, "n_trials": len(trials), "n_pruned": n_pruned, "trials": trials}, fit
