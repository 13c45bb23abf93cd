"""``skysieve tune``: an Optuna study over k-fold cross-validation, tracked as nested MLflow runs.

MLflow hierarchy: one run per study (``study-<name>``, reused when the study
resumes or another process joins it), a nested run per trial, a nested run
per fold inside that. Pruned trials end ``KILLED`` with the tag
``skysieve.state = PRUNED``.

Many workers, one study: every ``skysieve tune`` on the same storage
(``postgresql://…`` across hosts, ``sqlite:///…`` on one) shares the study.
The process that creates the study seeds its sampler with ``tune.seed``;
one that joins or resumes it draws from a seed of its own. Each running
trial writes an Optuna heartbeat; a trial whose worker died
(killed, host lost) is marked FAIL once its heartbeat is older than the grace
period and is queued again with the same parameters. The study stops at
exactly ``n_trials`` finished trials: a worker whose new trial would exceed
that, counting the trials still running before it, waits for them and
drops its trial (state FAIL, user attribute ``skysieve.surplus``) if they
finish.
"""

import math
import os
import socket
import time
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from skysieve.config import TrainParams, TuneParams
from skysieve.errors import ConfigError
from skysieve.train import TrainingCheckpoint, checkpoint_key, training_code_digest
from skysieve.tune._space import check_search_space, suggest

__all__ = ["GRACE_S", "HEARTBEAT_S", "STORAGE_ENV", "PruningObserver", "TuneResult", "default_study_name",
           "make_pruner", "open_study", "run_tune"]

#: ``<handoff_dir>.trials`` holds the trials' finished folds until the best one is handed over.
TRIALS_SUFFIX = ".trials"
#: Environment variable that overrides ``tune_<task>.storage``.
STORAGE_ENV = "SKYSIEVE_OPTUNA_STORAGE"
#: Default seconds between a running trial's heartbeats.
HEARTBEAT_S = 30
#: Default seconds without a heartbeat after which a running trial is failed and retried.
GRACE_S = 120
#: Times a trial whose worker died is queued again.
MAX_RETRY = 2
_PARENT_ATTR = "mlflow_parent_run_id"
_WORKER_ATTR = "skysieve.worker"
_SURPLUS_ATTR = "skysieve.surplus"
#: Seconds a process that joined a brand-new study waits for its creator to name the MLflow parent run.
_PARENT_WAIT_S = 60.0


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


class _SurplusTrial(Exception):
    """Raised (and caught by ``optimize``) for a trial the study no longer needs."""


class _StaleTrialCallback:
    """Optuna's retry of a heartbeat-stale trial, plus closing the dead trial's MLflow runs as FAILED."""

    def __init__(self, max_retry: int):
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def __call__(self, study, trial) -> None:
        self._retry(study, trial)
        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id:
            _close_stale_runs(run_id)


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


def _storage(url: str, *, heartbeat_s: int | None, grace_s: int | None):
    """An ``RDBStorage`` with heartbeats (and retry of stale trials) for a SQLAlchemy URL; other URLs as given."""
    import optuna

    if "://" not in url or url.startswith(("redis", "grpc")):
        return url
    import sqlalchemy.exc

    kwargs = {}
    if heartbeat_s is not None:
        kwargs = {"engine_kwargs": {"pool_pre_ping": True} if not url.startswith("sqlite") else None,
                  "heartbeat_interval": int(heartbeat_s), "grace_period": int(grace_s) if grace_s else None,
                  "heartbeat_stale_trial_callback": _StaleTrialCallback(MAX_RETRY)}
    # Workers started together on an empty database race to create Optuna's schema; the loser's
    # CREATE fails on an object the winner just made, and a second attempt finds the schema in place.
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
            if attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))


def _open_study(tune: TuneParams, *, storage: str, steps_per_trial: int, heartbeat_s: int | None = HEARTBEAT_S,
                grace_s: int | None = GRACE_S):
    """The study and whether this call created it (False: loaded, made earlier or by another process)."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=tune.seed, n_startup_trials=tune.startup_trials)
    pruner = make_pruner(tune, steps_per_trial=steps_per_trial)
    try:
        rdb = _storage(storage, heartbeat_s=heartbeat_s, grace_s=grace_s)
        try:
            return optuna.create_study(study_name=tune.study_name, storage=rdb, sampler=sampler, pruner=pruner,
                                       direction="maximize"), True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=tune.study_name, storage=rdb, sampler=sampler, pruner=pruner)
            # A process joining (or resuming) the study draws its own random stream: with the study's seed
            # it would repeat the creator's first random trials.
            seed = zlib.crc32(f"{tune.seed}:{len(study.get_trials(deepcopy=False))}:{_worker()}".encode())
            study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=tune.startup_trials)
            return study, False
    except Exception as exc:  # noqa: BLE001 - storage URLs fail in many driver-specific ways
        raise ConfigError(f"tune.storage: cannot open Optuna storage {_safe_url(storage)!r} ({exc}); "
                          f"pass a valid SQLAlchemy URL (sqlite:///optuna.db, postgresql://…)") from exc


def open_study(tune: TuneParams, *, storage: str, steps_per_trial: int, heartbeat_s: int | None = HEARTBEAT_S,
               grace_s: int | None = GRACE_S):
    """Create or load the study; several processes (on several hosts) may share it.

    Parameters
    ----------
    tune : TuneParams
    storage : str
        SQLAlchemy URL (``sqlite:///optuna.db``, ``postgresql://user@host/db``).
    steps_per_trial : int
        Epochs a trial reports (for the hyperband pruner).
    heartbeat_s : int or None
        Seconds between a running trial's heartbeats; None turns heartbeats off.
    grace_s : int or None
        Seconds without a heartbeat after which a running trial is marked FAIL
        and queued again (up to twice) with the same parameters.
    """
    return _open_study(tune, storage=storage, steps_per_trial=steps_per_trial, heartbeat_s=heartbeat_s,
                       grace_s=grace_s)[0]


def default_study_name(task: str, tune: TuneParams, base: TrainParams, prov: Mapping[str, str]) -> str:
    """``<task>-<10 hex digits>``: the study a search belongs to, named by what it searches.

    The digest covers everything a trial's value depends on — the train
    section searched around, the search space, sampler, pruner and objective
    (``tune`` without ``n_trials``, ``timeout_s``, ``storage`` and
    ``study_name``, which only say how long and where to search), the MD5
    of the data (the ``data.*.md5`` provenance tags) and the source of the
    code that trains (:func:`training_code_digest`).  The same search resumes
    its study (raising ``n_trials`` extends it; workers with the same code on
    one storage share it); changed params, data or training code start a new
    study instead of returning the best trial of one made otherwise.
    """
    import hashlib
    import json

    what = {
        "task": task,
        "train": base.model_dump(mode="json"),
        "tune": tune.model_dump(mode="json", exclude={"n_trials", "timeout_s", "storage", "study_name"}),
        "data": sorted(v for k, v in prov.items() if k.startswith("data.") and k.endswith(".md5")),
        "code": training_code_digest(),
    }
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
    return f"{task}-{digest[:10]}"


class _TrialModels:
    """The fold models of this process's trials under ``<handoff>.trials/<study>/trial-<n>``.

    Only the best complete trial of this process keeps its directory; a
    pruned or failed trial's, and a worse one's, go as soon as it ends, so
    the disk holds at most two trials' models. :meth:`hand_over` moves the
    kept one to the train checkpoint if it is the study's best.
    """

    def __init__(self, root: Path, study_name: str):
        self.directory = root / study_name
        self.kept: tuple[int, float] | None = None

    def checkpoint(self, trial_number: int, *, key: str, info: Mapping[str, Any]) -> TrainingCheckpoint:
        return TrainingCheckpoint.open(self.directory / f"trial-{trial_number}", key=key, resume=False,
                                       every_epoch=False, info=info)

    def _drop(self, trial_number: int) -> None:
        import shutil

        shutil.rmtree(self.directory / f"trial-{trial_number}", ignore_errors=True)

    def ended(self, trial_number: int, value: float | None) -> None:
        """Keep the trial's models if it completed better than the one kept so far; drop the loser."""
        if value is None or (self.kept is not None and not value > self.kept[1]):
            self._drop(trial_number)
            return
        if self.kept is not None:
            self._drop(self.kept[0])
        self.kept = (trial_number, float(value))

    def hand_over(self, best: int, *, target: Path, n_folds: int) -> Path | None:
        """Move the kept trial to ``target`` if it is trial ``best`` with every fold finished; clean up.

        Returns ``target`` if moved, else None.
        """
        import shutil

        handed = None
        if self.kept is not None and self.kept[0] == best:
            source = self.directory / f"trial-{best}"
            if len(TrainingCheckpoint(source, key="").finished_folds()) == n_folds:
                try:
                    if target.exists():
                        shutil.rmtree(target)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source, target)
                    handed = target
                except OSError:
                    handed = None  # another process holds the target; training then trains anew
        self.close()
        return handed

    def close(self) -> None:
        """Drop the kept trial (if still here) and the directories, unless other workers' trials are in them."""
        if self.kept is not None:
            self._drop(self.kept[0])
            self.kept = None
        for directory in (self.directory, self.directory.parent):
            try:
                directory.rmdir()
            except OSError:
                break


def _delete_study(name: str, storage: str) -> None:
    """Remove study ``name`` from ``storage`` if it is there (``skysieve tune --fresh``)."""
    import optuna

    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        return
    except Exception as exc:  # noqa: BLE001 - storage URLs fail in many driver-specific ways
        raise ConfigError(f"tune.storage: cannot delete study {name!r} from {_safe_url(storage)!r} ({exc})") from exc


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _is_live(trial, *, grace_s: float) -> bool:
    """A RUNNING trial that may still finish: a skysieve worker runs it (heartbeats fail it if that
    worker dies), or it started moments ago. A trial left RUNNING without heartbeats never ends."""
    if _WORKER_ATTR in trial.user_attrs:
        return True
    started = trial.datetime_start
    return started is not None and (datetime.now() - started).total_seconds() < grace_s


def _trial_needed(study, trial, *, n_trials: int, poll_s: float, grace_s: float) -> bool:
    """Whether ``trial`` is within the study's ``n_trials``, counting earlier trials still running.

    Trials are counted in number order; while earlier trials are running
    and could fill the study, wait for them (failing stale ones).
    """
    import optuna

    state = optuna.trial.TrialState
    while True:
        earlier = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number]
        finished = sum(t.state in (state.COMPLETE, state.PRUNED) for t in earlier)
        running = [t for t in earlier if t.state == state.RUNNING and _is_live(t, grace_s=grace_s)]
        waiting = sum(t.state == state.WAITING for t in earlier)
        if finished + len(running) + waiting < n_trials:
            return True
        if not running:
            return False
        time.sleep(poll_s)
        optuna.storages.fail_stale_trials(study)


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
    two workers started at once share one parent.
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
        "optuna.storage": _safe_url(storage), "optuna.objective": tune.objective})
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
    that trials already running elsewhere could make surplus.

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
    heartbeat_s, grace_s : int or None
        Optuna heartbeat interval and grace period (see :func:`open_study`):
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
    from skysieve.train import cross_validate, with_overrides
    from skysieve.train._mlflow import KIND_TAG, MlflowFoldLogger, finite_metrics

    check_search_space(tune.search_space, base, source=f"{source}: tune_{task}")
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

    configure_mlflow(root)
    client = mlflow.MlflowClient()
    exp = experiment_id(base.experiment or task, root=root)
    parent, created = _parent_run(client, study, created=created, experiment=exp, task=task, storage=storage,
                                  tune=tune)
    # MLflow params are write-once: a resumed study keeps its first params and records the new
    # invocation's section as tags (provenance tags are refreshed either way).
    log_provenance(parent, provenance=prov, params=tune if created else None, client=client)
    if not created:
        client.set_tag(parent, "skysieve.resumed_n_trials", str(tune.n_trials))

    poll_s = float(min(heartbeat_s or 5, 5))
    data_md5 = {k: v for k, v in prov.items() if k.startswith("data.") and k.endswith(".md5")}
    trial_models = None if handoff_dir is None else _TrialModels(Path(f"{handoff_dir}{TRIALS_SUFFIX}"),
                                                                 tune.study_name)

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
            cv = cross_validate(cfg, dataset, observer=observer, checkpoint=checkpoint)
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
