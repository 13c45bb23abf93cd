"""``skysieve tune``: an Optuna study over k-fold cross-validation, tracked as nested MLflow runs.

MLflow hierarchy: one run per study (``study-<name>``, reused when the study
resumes or another process joins it), a nested run per trial, a nested run
per fold inside that. Pruned trials end ``KILLED`` with the tag
``skysieve.state = PRUNED``.
"""

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from skysieve.config import TrainParams, TuneParams
from skysieve.errors import ConfigError
from skysieve.tune._space import check_search_space, suggest

__all__ = ["STORAGE_ENV", "PruningObserver", "TuneResult", "make_pruner", "open_study", "run_tune"]

#: Environment variable that overrides ``tune_<task>.storage``.
STORAGE_ENV = "SKYSIEVE_OPTUNA_STORAGE"
_PARENT_ATTR = "mlflow_parent_run_id"


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``skysieve tune`` writes)."""
        return asdict(self)


def make_pruner(tune: TuneParams, *, steps_per_trial: int):
    """The Optuna pruner named by ``tune.pruner`` (``median``, ``hyperband`` or ``none``)."""
    import optuna

    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=tune.startup_trials, n_warmup_steps=tune.warmup_epochs)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(steps_per_trial, 1))
    return optuna.pruners.NopPruner()


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL; keep as is
        return url


def open_study(tune: TuneParams, *, storage: str, steps_per_trial: int):
    """Create or load (``load_if_exists``) the study; several processes may share it."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=tune.seed, n_startup_trials=tune.startup_trials)
    try:
        return optuna.create_study(study_name=tune.study_name, storage=storage, sampler=sampler,
                                   pruner=make_pruner(tune, steps_per_trial=steps_per_trial),
                                   direction="maximize", load_if_exists=True)
    except Exception as exc:  # noqa: BLE001 - storage URLs fail in many driver-specific ways
        raise ConfigError(f"tune.storage: cannot open Optuna storage {_safe_url(storage)!r} ({exc}); "
                          f"pass a valid SQLAlchemy URL (sqlite:///optuna.db, postgresql://…)") from exc


class PruningObserver:
    """Forwards engine events to an MLflow fold logger and reports each epoch's metric to Optuna.

    The reported step is ``fold × steps_per_fold + epoch``; a pruned trial
    raises ``optuna.TrialPruned`` from inside training.
    """

    def __init__(self, logger: Any, trial: Any, *, metric: str, steps_per_fold: int):
        self.logger, self.trial, self.metric, self.steps_per_fold = logger, trial, metric, steps_per_fold

    def fold_started(self, fold) -> None:
        self.logger.fold_started(fold)

    def epoch_ended(self, fold, step: int, logs: Mapping[str, float]) -> None:
        import optuna

        self.logger.epoch_ended(fold, step, logs)
        value = logs.get(f"val_{self.metric}", math.nan)
        if math.isfinite(value):
            self.trial.report(float(value), fold.index * self.steps_per_fold + step)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at fold {fold.index}, epoch {step}")

    def fold_ended(self, fold, result) -> None:
        self.logger.fold_ended(fold, result)


def _parent_run(client, study, *, experiment: str, task: str, storage: str, tune: TuneParams) -> tuple[str, bool]:
    """The study's MLflow run id, and whether it was created now (else resumed)."""
    from skysieve.train._mlflow import KIND_TAG

    run_id = study.user_attrs.get(_PARENT_ATTR)
    if run_id:
        try:
            client.get_run(run_id)
            client.update_run(run_id, status="RUNNING")
            return run_id, False
        except Exception:  # noqa: BLE001 - run lives in another tracking store; start a new parent here
            pass
    run = client.create_run(experiment, run_name=f"study-{tune.study_name}", tags={
        KIND_TAG: "study", "skysieve.task": task, "optuna.study_name": tune.study_name,
        "optuna.storage": _safe_url(storage), "optuna.objective": tune.objective})
    study.set_user_attr(_PARENT_ATTR, run.info.run_id)
    return run.info.run_id, True


def run_tune(tune: TuneParams, base: TrainParams, *, data_dir: str | Path, task: str,
             storage: str | None = None, root: str | Path | None = None, source: str = "params.yaml") -> TuneResult:
    """Search ``tune.search_space`` around ``base`` and return the best trial.

    Each trial cross-validates ``base`` with the trial's overrides; its value
    is the mean over folds of ``tune.objective`` on the held-out fold. The
    study keeps going until it holds ``tune.n_trials`` finished (complete or
    pruned) trials, counting those of earlier runs and of other processes on
    the same storage.

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
        Named in error messages (``params.yaml: tune_sz…``).

    Returns
    -------
    TuneResult
    """
    import mlflow
    import optuna
    from mlflow.entities import Metric, Param

    from skysieve._tracking import configure_mlflow, experiment_id, log_provenance, provenance
    from skysieve.data.dataset import open_dataset
    from skysieve.train import cross_validate, with_overrides
    from skysieve.train._mlflow import KIND_TAG, MlflowFoldLogger, finite_metrics

    check_search_space(tune.search_space, base, source=f"{source}: tune_{task}")
    tune = tune.model_copy(update={"study_name": tune.study_name or task})
    dataset = open_dataset(data_dir)
    storage = storage or os.environ.get(STORAGE_ENV) or tune.storage
    stages = len(base.imbalance.curriculum_ratios) if base.imbalance.strategy == "curriculum" else 1
    steps_per_fold = base.epochs * stages
    n_folds = 1 if base.splitter == "holdout" else base.k_folds
    study = open_study(tune, storage=storage, steps_per_trial=steps_per_fold * n_folds)

    configure_mlflow(root)
    client = mlflow.MlflowClient()
    exp = experiment_id(base.experiment or task, root=root)
    prov = provenance([data_dir], root=root)
    parent, created = _parent_run(client, study, experiment=exp, task=task, storage=storage, tune=tune)
    # MLflow params are write-once: a resumed study keeps its first params and records the new
    # invocation's section as tags (provenance tags are refreshed either way).
    log_provenance(parent, provenance=prov, params=tune if created else None, client=client)
    if not created:
        client.set_tag(parent, "skysieve.resumed_n_trials", str(tune.n_trials))

    def objective(trial: optuna.Trial) -> float:
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
        try:
            cv = cross_validate(cfg, dataset, observer=observer)
        except optuna.TrialPruned:
            logger.abort("KILLED")
            client.set_tag(run_id, "skysieve.state", "PRUNED")
            client.set_terminated(run_id, "KILLED")
            raise
        except BaseException:
            logger.abort("FAILED")
            client.set_tag(run_id, "skysieve.state", "FAILED")
            client.set_terminated(run_id, "FAILED")
            raise
        summary = cv.summary()
        value = summary[f"{tune.objective}_mean"]
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
            study.optimize(objective, n_trials=remaining, timeout=tune.timeout_s, gc_after_trial=True,
                           callbacks=[optuna.study.MaxTrialsCallback(tune.n_trials, states=finished)])
    except BaseException:
        client.set_terminated(parent, "FAILED")
        raise
    trials = study.get_trials(deepcopy=False)
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    n_pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    if n_complete == 0:
        client.set_terminated(parent, "FAILED")
        raise ConfigError(f"{source}: tune_{task}: study {tune.study_name!r} has no complete trial "
                          f"({n_pruned} pruned); raise n_trials or startup_trials, or set pruner: none")
    best = study.best_trial
    client.log_batch(parent, metrics=[Metric(k, float(v), 0, 0) for k, v in
                                      {"best_value": best.value, "n_complete": n_complete,
                                       "n_pruned": n_pruned}.items()])
    client.set_tag(parent, "optuna.best_trial", str(best.number))
    client.set_terminated(parent, "FINISHED")
    return TuneResult(task=task, study_name=tune.study_name, storage=_safe_url(storage), objective=tune.objective,
                      best_value=float(best.value), best_trial=best.number, params=dict(best.params),
                      n_complete=n_complete, n_pruned=n_pruned, mlflow_parent_run_id=parent)
