"""The study's MLflow runs: the parent run per study, a dead trial's runs, the per-epoch observer.

MLflow hierarchy: one run per study (``study-<name>``, reused when the study
resumes or another process joins it; its id is the Optuna study attribute
``mlflow_parent_run_id``), a nested run per trial, a nested run per fold
inside that.  When a tracking store lacks the recorded parent run (or it was
deleted) a new one starts, with a warning; when the store cannot be read,
:class:`~skysieve.errors.ConfigError`.
"""

import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

from skysieve.config import TuneParams
from skysieve.errors import ConfigError

__all__ = ["PruningObserver"]

_PARENT_ATTR = "mlflow_parent_run_id"
#: Seconds a process that joined a brand-new study waits for its creator to name the MLflow parent run.
_PARENT_WAIT_S = 60.0


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


def _parent_run(client, study, *, created: bool, experiment: str, task: str, storage: str,
                tune: TuneParams) -> tuple[str, bool]:
    """The study's MLflow run id, and whether it was created now (else resumed or joined).

    Only the process that created the Optuna study creates the parent run
    (study creation is atomic in the storage); a process joining a study
    that has no trial yet waits for the creator to record the run id, so
    two workers started at once share one parent.  ``storage`` is the Optuna
    storage URL as the run's tag shows it (password hidden).
    """
    from skysieve.train._mlflow import KIND_TAG

    run_id = study.user_attrs.get(_PARENT_ATTR)
    if not run_id and not created and not study.get_trials(deepcopy=False):
        deadline = time.monotonic() + _PARENT_WAIT_S
        while not run_id and time.monotonic() < deadline:
            time.sleep(0.5)
            run_id = study.user_attrs.get(_PARENT_ATTR)
    if run_id and _reopen_parent(client, run_id, study_name=tune.study_name):
        return run_id, False
    run = client.create_run(experiment, run_name=f"study-{tune.study_name}", tags={
        KIND_TAG: "study", "skysieve.task": task, "optuna.study_name": tune.study_name,
        "optuna.storage": storage, "optuna.objective": tune.objective})
    study.set_user_attr(_PARENT_ATTR, run.info.run_id)
    return run.info.run_id, True


def _reopen_parent(client, run_id: str, *, study_name: str) -> bool:
    """Set the study's parent run RUNNING again; False, with a warning, if this tracking store lacks it.

    Raises
    ------
    ConfigError
        If the tracking store holds the run but refuses to reopen it (unreachable, no permission).
    """
    from mlflow.exceptions import MlflowException

    where = f"tune: study {study_name!r} records MLflow parent run {run_id} (Optuna study attribute {_PARENT_ATTR!r})"
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise ConfigError(f"{where}, but it cannot be read ({exc}); check that the tracking store "
                              "($MLFLOW_TRACKING_URI, else <root>/mlflow.db) is reachable and rerun") from exc
        warnings.warn(f"{where}, which this tracking store does not hold ({exc}); starting a new parent run here. "
                      "Run against the tracking store the study began in to keep one parent run",
                      RuntimeWarning, stacklevel=3)
        return False
    if run.info.lifecycle_stage == "deleted":
        warnings.warn(f"{where}, which was deleted; starting a new parent run. Restore it (mlflow runs restore "
                      f"--run-id {run_id}) before resuming to keep one parent run", RuntimeWarning, stacklevel=3)
        return False
    try:
        client.update_run(run_id, status="RUNNING")
    except MlflowException as exc:
        raise ConfigError(f"{where}, but it cannot be reopened ({exc}); check that the tracking store "
                          "($MLFLOW_TRACKING_URI, else <root>/mlflow.db) is writable and rerun") from exc
    return True


def _close_stale_runs(run_id: str) -> None:
    """Mark a dead trial's MLflow run and its running fold runs FAILED; warn (and go on) if MLflow refuses."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        client = mlflow.MlflowClient()
        run = client.get_run(run_id)
        children = client.search_runs([run.info.experiment_id],
                                      f"tags.mlflow.parentRunId = '{run_id}' and attributes.status = 'RUNNING'")
        for child in [*children, run]:
            if child.info.status == "RUNNING":
                client.set_tag(child.info.run_id, "skysieve.state", "FAILED")
                client.set_tag(child.info.run_id, "skysieve.failed_by", "heartbeat (worker gone)")
                client.set_terminated(child.info.run_id, "FAILED")
    except (MlflowException, OSError) as exc:  # bookkeeping only: the trial is retried regardless
        warnings.warn(f"tune: could not mark the MLflow runs of stale trial run {run_id} as FAILED ({exc}); "
                      "the trial is retried anyway, but its runs may stay RUNNING in MLflow: end them with "
                      f"MlflowClient().set_terminated({run_id!r}, 'FAILED') if they do", RuntimeWarning, stacklevel=2)

