"""The Optuna study: storage with heartbeats, its name, and the ``n_trials`` cap shared by every worker.

Many workers, one study: every ``skysieve tune`` on the same storage
(``postgresql://…`` across hosts, ``sqlite:///…`` on one) shares the study.
The process that creates the study seeds its sampler with ``tune.seed``;
one that joins or resumes it draws from a seed of its own. Each running
trial writes an Optuna heartbeat; a trial whose worker died
(killed, host lost) is marked FAIL once its heartbeat is older than the grace
period and is queued again with the same parameters (its MLflow runs are
marked FAILED).  The study stops at exactly ``n_trials`` finished trials:
a worker whose new trial would exceed that, counting the trials still
running before it, waits for them and drops its trial (state FAIL, user
attribute ``skysieve.surplus``) if they finish.
"""

import os
import socket
import time
import warnings
import zlib
from collections.abc import Mapping
from datetime import datetime

from skysieve._urls import safe_text as _safe_text
from skysieve._urls import safe_url as _safe_url
from skysieve.config import TrainParams, TuneParams
from skysieve.errors import ConfigError
from skysieve.train import training_code_digest
from skysieve.tune._runs import _close_stale_runs

__all__ = ["GRACE_S", "HEARTBEAT_S", "STORAGE_ENV", "default_study_name", "make_pruner", "open_study"]

#: Environment variable that overrides ``tune_<task>.storage``.
STORAGE_ENV = "SKYSIEVE_OPTUNA_STORAGE"
#: Default seconds between a running trial's heartbeats.
HEARTBEAT_S = 30
#: Default seconds without a heartbeat after which a running trial is failed and retried.
GRACE_S = 120
#: Times a trial whose worker died is queued again.
MAX_RETRY = 2
_WORKER_ATTR = "skysieve.worker"
_SURPLUS_ATTR = "skysieve.surplus"


def make_pruner(tune: TuneParams, *, steps_per_trial: int):
    """The Optuna pruner named by ``tune.pruner`` (``median``, ``hyperband`` or ``none``)."""
    import optuna

    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=tune.startup_trials, n_warmup_steps=tune.warmup_epochs)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(steps_per_trial, 1))
    return optuna.pruners.NopPruner()


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
        raise ConfigError(f"tune.storage: cannot open Optuna storage {_safe_url(storage)!r} ({_safe_text(exc)}); "
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
    ``study_name``, which only say how long and where to search, and ``base``
    without its ``RUNTIME_KEYS``, which say how folds run), the MD5
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
        "train": base.model_dump(mode="json", exclude=set(base.RUNTIME_KEYS)),
        "tune": tune.model_dump(mode="json", exclude={"n_trials", "timeout_s", "storage", "study_name"}),
        "data": sorted(v for k, v in prov.items() if k.startswith("data.") and k.endswith(".md5")),
        "code": training_code_digest(),
    }
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
    return f"{task}-{digest[:10]}"


def _delete_study(name: str, storage: str) -> None:
    """Remove study ``name`` from ``storage`` if it is there (``skysieve tune --fresh``)."""
    import optuna

    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        return
    except Exception as exc:  # noqa: BLE001 - storage URLs fail in many driver-specific ways
        raise ConfigError(f"tune.storage: cannot delete study {name!r} from {_safe_url(storage)!r} "
                          f"({_safe_text(exc)})") from exc


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

