"""``skysieve tune``: an Optuna study over k-fold cross-validation, tracked as nested MLflow runs.

:func:`run_tune` ties the pieces together: the study and its storage shared
by every worker (:mod:`skysieve.tune._storage`), the MLflow study → trial →
fold runs (:mod:`skysieve.tune._runs`) and the hand-over of the best trial's
fold models to ``skysieve train`` (:mod:`skysieve.tune._handover`).  Pruned
trials end ``KILLED`` with the tag ``skysieve.state = PRUNED``.
"""

import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from skysieve.config import TrainParams, TuneParams
from skysieve.errors import ConfigError
from skysieve.train import checkpoint_key
from skysieve.tune._handover import TRIALS_SUFFIX, _TrialModels
from skysieve.tune._runs import PruningObserver, _parent_run
from skysieve.tune._space import base_values, check_search_space, suggest
from skysieve.tune._storage import (
    _SURPLUS_ATTR,
    _WORKER_ATTR,
    GRACE_S,
    HEARTBEAT_S,
    STORAGE_ENV,
    _delete_study,
    _open_study,
    _safe_url,
    _SurplusTrial,
    _trial_needed,
    _worker,
    default_study_name,
)

__all__ = ["TuneResult", "run_tune"]


@dataclass
class TuneResult:
    """The outcome of a (possibly resumed) study.

    Attributes
    ----------
    task, study_name, storage, objective : str
    best_value : float
        Mean k-fold held-out ``objective`` of the best trial.
    best_trial : int
    params : dict
        Dotted train-section keys → values of the best trial.
    n_complete, n_pruned : int
        Finished trials in the whole study (every process).
    mlflow_parent_run_id : str
    handed_over : str or None
        The checkpoint directory the best trial's finished fold models were
        moved to for ``skysieve train`` (see :func:`run_tune`), if they were.
    """

    task: str
    study_name: str
    storage: str
    objective: str
    best_value: float
    best_trial: int
    params: dict[str, Any]
    n_complete: int
    n_pruned: int
    mlflow_parent_run_id: str
    handed_over: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``skysieve tune`` writes)."""
        return asdict(self)


def _enqueue_base(study: Any, values: dict[str, Any], *, created: bool, n_trials: int) -> None:
    """Queue the base recipe's trial: at the study's creation, or again if every earlier try of it failed.

    Only the process that created the study queues it there, so workers
    opening a new study together queue it once (one that asks for a trial
    before it is queued draws from the sampler instead). A resumed study
    queues it again only if it holds no live try of it (complete, pruned,
    running or waiting) but a failed one, and still needs trials.
    """
    import optuna

    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    tries = [t for t in trials if t.system_attrs.get("fixed_params", t.params) == values]
    if created:
        if not tries:
            study.enqueue_trial(values)
        return
    finished = sum(t.state in (state.COMPLETE, state.PRUNED) for t in trials)
    if tries and all(t.state == state.FAIL for t in tries) and finished < n_trials:
        study.enqueue_trial(values)


def run_tune(tune: TuneParams, base: TrainParams, *, data_dir: str | Path, task: str,
             storage: str | None = None, root: str | Path | None = None, source: str = "params.yaml",
             heartbeat_s: int | None = HEARTBEAT_S, grace_s: int | None = GRACE_S,
             fresh: bool = False, handoff_dir: str | Path | None = None) -> TuneResult:
    """Search ``tune.search_space`` around ``base`` and return the best trial.

    Each trial cross-validates ``base`` with the trial's overrides; its value
    is the mean over folds of ``tune.objective`` on the held-out fold. The
    study keeps going until it holds ``tune.n_trials`` finished (complete or
    pruned) trials, counting those of earlier runs and of other processes on
    the same storage — exactly that many: a process never starts a trial
    that trials already running elsewhere could make surplus. With
    ``tune.enqueue_base`` the study's first trial is ``base``'s own values of
    the searched keys (:func:`base_values`; queued by the process that creates
    the study, and again on resuming if it failed, :func:`_enqueue_base`);
    the sampler proposes the rest.

    When ``base.fold_workers`` resolves to more than one process, each
    trial's folds are fitted at once on worker processes started once for
    the whole search (:class:`skysieve.train.FoldWorkers`); the trials'
    values, reported steps and pruning are the same as with folds fitted one
    after another (:func:`skysieve.train.cross_validate`), and this process
    alone writes to MLflow and Optuna.

    Parameters
    ----------
    tune : TuneParams
    base : TrainParams
        The train section the search starts from.
    data_dir : path
        Cutout dataset directory.
    task : str
    storage : str, optional
        Optuna storage URL; default ``$SKYSIEVE_OPTUNA_STORAGE``, else ``tune.storage``.
    root : path, optional
        Repository root for MLflow and provenance.
    source : str
        Named in error messages (``params.yaml: tune_<search>…``).
    heartbeat_s, grace_s : int or None
        Optuna heartbeat interval and grace period (see :func:`skysieve.tune.open_study`):
        a trial whose worker stops beating for ``grace_s`` seconds is
        marked FAIL, its MLflow runs FAILED, and it is run again.
    fresh : bool
        Delete the study of this name from the storage first and search
        anew (its MLflow runs stay, for comparison).
    handoff_dir : path, optional
        The checkpoint directory of the ``skysieve train`` that follows
        (``<train --out>.ckpt``). Each trial this process runs saves its
        finished fold models (no per-epoch states) under
        ``<handoff_dir>.trials/<study>/trial-<n>``, keyed like the train
        checkpoint (:func:`skysieve.train.checkpoint_key`: the trial's
        resolved params, the data, the training code); only this process's
        best complete trial is kept while the search runs. At the end, if
        that is the study's best trial with every fold finished, it replaces
        ``handoff_dir``; everything else is removed (also on failure).
        Training with the best params then reloads those fold models —
        bit-identical to retraining them on CPU — instead of training them
        again; other params, data or code discard them. A study resumed
        with nothing left to run, or whose best trial ran in another
        process, hands nothing over.

    Returns
    -------
    TuneResult
    """
    import mlflow
    import optuna
    from mlflow.entities import Metric, Param

    from skysieve._tracking import configure_mlflow, experiment_id, log_provenance, provenance
    from skysieve.data.dataset import open_dataset
    from skysieve.train import FoldWorkers, cross_validate, fold_workers, with_overrides
    from skysieve.train._mlflow import KIND_TAG, MlflowFoldLogger, finite_metrics

    check_search_space(tune.search_space, base, source=f"{source}: tune_{task}")
    first = base_values(tune.search_space, base, source=f"{source}: tune_{task}") if tune.enqueue_base else None
    dataset = open_dataset(data_dir)
    prov = provenance([data_dir], root=root)
    tune = tune.model_copy(update={"study_name": tune.study_name or default_study_name(task, tune, base, prov)})
    storage = storage or os.environ.get(STORAGE_ENV) or tune.storage
    if fresh:
        _delete_study(tune.study_name, storage)
    stages = len(base.imbalance.curriculum_ratios) if base.imbalance.strategy == "curriculum" else 1
    steps_per_fold = base.epochs * stages
    n_folds = 1 if base.splitter == "holdout" else base.k_folds
    study, created = _open_study(tune, storage=storage, steps_per_trial=steps_per_fold * n_folds,
                                 heartbeat_s=heartbeat_s, grace_s=grace_s)
    if first is not None:
        _enqueue_base(study, first, created=created, n_trials=tune.n_trials)

    configure_mlflow(root)
    client = mlflow.MlflowClient()
    exp = experiment_id(base.experiment or task, root=root)
    parent, created = _parent_run(client, study, created=created, experiment=exp, task=task,
                                  storage=_safe_url(storage), tune=tune)
    # MLflow params are write-once: a resumed study keeps its first params and records the new
    # invocation's section as tags (provenance tags are refreshed either way).
    log_provenance(parent, provenance=prov, params=tune if created else None, client=client)
    if not created:
        client.set_tag(parent, "skysieve.resumed_n_trials", str(tune.n_trials))

    poll_s = float(min(heartbeat_s or 5, 5))
    data_md5 = {k: v for k, v in prov.items() if k.startswith("data.") and k.endswith(".md5")}
    trial_models = None if handoff_dir is None else _TrialModels(Path(f"{handoff_dir}{TRIALS_SUFFIX}"),
                                                                 tune.study_name)
    # One set of fold worker processes for every trial of this process (TensorFlow starts once per worker).
    n_workers = fold_workers(base.fold_workers, n_folds)
    workers = FoldWorkers(dataset, workers=n_workers) if n_workers > 1 else None

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(_WORKER_ATTR, _worker())
        # Without heartbeats a dead worker's trial never ends, so there is nothing safe to wait for.
        if heartbeat_s and not _trial_needed(study, trial, n_trials=tune.n_trials, poll_s=poll_s,
                                             grace_s=float(grace_s or 2 * heartbeat_s)):
            trial.set_user_attr(_SURPLUS_ATTR, True)
            raise _SurplusTrial(f"trial {trial.number} not run: the study already holds {tune.n_trials} trials")
        overrides = suggest(trial, tune.search_space)
        cfg = with_overrides(base, overrides, source=f"{source}: tune_{task}.search_space")
        run = client.create_run(exp, run_name=f"trial-{trial.number}", tags={
            "mlflow.parentRunId": parent, KIND_TAG: "trial", "optuna.trial_number": str(trial.number),
            "optuna.study_name": tune.study_name})
        run_id = run.info.run_id
        trial.set_user_attr("mlflow_run_id", run_id)
        log_provenance(run_id, provenance=prov, params=cfg, client=client)
        client.log_batch(run_id, params=[Param(f"trial.{k}", str(v)) for k, v in overrides.items()])
        logger = MlflowFoldLogger(client, experiment_id=exp, parent_run_id=run_id, tags=prov, params=cfg)
        observer = PruningObserver(logger, trial, metric=tune.objective, steps_per_fold=steps_per_fold)
        checkpoint = None if trial_models is None else trial_models.checkpoint(
            trial.number, key=checkpoint_key(cfg, data=data_md5),
            info={"mlflow_run_id": run_id, "task": task, "tune_trial": trial.number, "study": tune.study_name})
        try:
            cv = cross_validate(cfg, dataset, observer=observer, checkpoint=checkpoint, workers=workers)
        except optuna.TrialPruned:
            logger.abort("KILLED")
            client.set_tag(run_id, "skysieve.state", "PRUNED")
            client.set_terminated(run_id, "KILLED")
            if trial_models is not None:
                trial_models.ended(trial.number, None)
            raise
        except BaseException:
            logger.abort("FAILED")
            client.set_tag(run_id, "skysieve.state", "FAILED")
            client.set_terminated(run_id, "FAILED")
            if trial_models is not None:
                trial_models.ended(trial.number, None)
            raise
        summary = cv.summary()
        value = summary[f"{tune.objective}_mean"]
        if trial_models is not None:
            trial_models.ended(trial.number, value)
        folds = {f"fold{r.fold.index}_{k}": v for r in cv.folds for k, v in r.metrics.items()}
        metrics = finite_metrics({**summary, **folds, "objective": value})
        client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()])
        client.set_tag(run_id, "skysieve.state", "COMPLETE")
        client.set_terminated(run_id, "FINISHED")
        return value

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    remaining = tune.n_trials - len(study.get_trials(deepcopy=False, states=finished))
    try:
        if remaining > 0:
            # No per-process trial count: the study stops every worker at n_trials finished trials.
            with workers if workers is not None else nullcontext():
                study.optimize(objective, n_trials=None, timeout=tune.timeout_s, gc_after_trial=True,
                               catch=(_SurplusTrial,),
                               callbacks=[optuna.study.MaxTrialsCallback(tune.n_trials, states=finished)])
    except BaseException:
        client.set_terminated(parent, "FAILED")
        if trial_models is not None:
            trial_models.close()
        raise
    trials = study.get_trials(deepcopy=False)
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    n_pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    if n_complete == 0:
        client.set_terminated(parent, "FAILED")
        if trial_models is not None:
            trial_models.close()
        raise ConfigError(f"{source}: tune_{task}: study {tune.study_name!r} has no complete trial "
                          f"({n_pruned} pruned); raise n_trials or startup_trials, or set pruner: none")
    best = study.best_trial
    client.log_batch(parent, metrics=[Metric(k, float(v), 0, 0) for k, v in
                                      {"best_value": best.value, "n_complete": n_complete,
                                       "n_pruned": n_pruned}.items()])
    client.set_tag(parent, "optuna.best_trial", str(best.number))
    client.set_terminated(parent, "FINISHED")
    handed = None if trial_models is None else trial_models.hand_over(best.number, target=Path(handoff_dir),
                                                                      n_folds=n_folds)
    return TuneResult(task=task, study_name=tune.study_name, storage=_safe_url(storage), objective=tune.objective,
                      best_value=float(best.value), best_trial=best.number, params=dict(best.params),
                      n_complete=n_complete, n_pruned=n_pruned, mlflow_parent_run_id=parent,
                      handed_over=None if handed is None else str(handed))

