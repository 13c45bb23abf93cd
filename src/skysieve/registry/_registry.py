"""Registering, promoting and rolling back model versions in the MLflow registry.

Aliases only, never the deprecated stages: registering sets ``candidate``;
only :func:`promote` moves ``champion``, and only to a candidate whose test F1
is at least the champion's on the same test data (same ``data_hash`` tag),
unless forced with a recorded reason.  Every champion change is appended to
the registered model's ``champion_history`` tag, so :func:`rollback` can go
back.

Champion changes are serialised across processes and hosts by a lock that
works on every MLflow store (SQLite file, database, tracking server): a
registered model named ``<name>.champion-lock``, which the store lets only one
caller create. Two ``skysieve promote`` at once therefore run one after the
other — the second sees the first's champion — leaving one champion and a
history in which every event follows the one before.

Tags on each version (strings, as MLflow stores them):

=====================  =====================================================
``skysieve.task``      the search the version serves (``skysieve catalog`` dispatches on it)
``primary_method``     the method whose test F1 decides promotion
``test_f1``            that F1
``test.<m>.<metric>``  purity, completeness, f1, roc_auc, pr_auc, counts … per method
``threshold.<key>``    every threshold (``mf``, ``cnn``, ``and.cnn``, ``and.mf``, ``rank_product``)
``data_hash``          DVC hash of the data the model was trained and tested on
``git_commit``         code version
``params``             the params it was trained with, JSON
``reference_scores``   where the reference score distributions are (``runs:/`` URI, no local path)
=====================  =====================================================
"""

import getpass
import hashlib
import json
import math
import os
import random
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from skysieve._tracking import log_provenance
from skysieve.ensemble import Ensembles, ReferenceDistribution
from skysieve.errors import RegistryError
from skysieve.registry._pyfunc import EnsembleModel, ensemble_signature, write_state
from skysieve.tasks import TASK_TAG

__all__ = [
    "CANDIDATE",
    "CHAMPION",
    "TASK_TAG",
    "PromotionResult",
    "champion_history",
    "champion_lock",
    "data_hash_of",
    "get_model_version",
    "load_ensembles",
    "load_reference_distributions",
    "promote",
    "register_ensemble",
    "register_model_version",
    "rollback",
]

CANDIDATE = "candidate"
CHAMPION = "champion"
HISTORY_TAG = "champion_history"
_HISTORY_MAX = 200
LOCK_SUFFIX = ".champion-lock"
#: A lock older than this (seconds) was left by a process that died; it is broken.
_LOCK_TTL_S = 120.0
#: How long a promotion waits for another to finish (seconds).
_LOCK_WAIT_S = 300.0
_LOCK_TAG = "skysieve.lock"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _who(user: str | None) -> str:
    if user:
        return user
    try:
        return os.environ.get("MLFLOW_TRACKING_USERNAME") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def _tag_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "nan"
    if value is None:
        return "none"
    return str(value)


def _client() -> MlflowClient:
    return MlflowClient()


def _registered_model(client: MlflowClient, name: str) -> Any:
    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"registry at {mlflow.get_registry_uri()}: cannot read model '{name}' ({exc})") from exc
        known = sorted(m.name for m in client.search_registered_models(max_results=100))
        raise RegistryError(
            f"no registered model named '{name}' in {mlflow.get_registry_uri()} "
            f"(registered: {known or 'none'}); run `skysieve register` first or check MLFLOW_TRACKING_URI"
        ) from None


def _versions(client: MlflowClient, name: str) -> list[str]:
    found = client.search_model_versions(f"name = '{name}'")
    return sorted((str(v.version) for v in found), key=int)


def get_model_version(name: str, *, version: str | int | None = None, alias: str | None = None) -> ModelVersion:
    """One version of a registered model, by number or by alias.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str or int, keyword-only, optional
    alias : str, keyword-only, optional
        Exactly one of ``version`` and ``alias``.

    Raises
    ------
    RegistryError
        Unknown model, version or alias; the message lists what exists.
    """
    if (version is None) == (alias is None):
        raise RegistryError(f"get_model_version('{name}'): pass exactly one of version= or alias=")
    client = _client()
    model = _registered_model(client, name)
    if alias is not None:
        if alias not in model.aliases:
            have = ", ".join(f"{a}→v{v}" for a, v in sorted(model.aliases.items())) or "none"
            raise RegistryError(
                f"model '{name}' has no alias '{alias}' (aliases: {have}); register a version (sets 'candidate') "
                "or promote one (sets 'champion')"
            )
        return client.get_model_version(name, str(model.aliases[alias]))
    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(
            f"model '{name}' has no version {version} (versions: {', '.join(_versions(client, name)) or 'none'})"
        ) from None


def data_hash_of(provenance: Mapping[str, str]) -> str:
    """One hash for all the data a provenance record names.

    The md5 itself when there is one ``data.<path>.md5`` entry, else the md5
    of the sorted ``path=md5`` lines.

    Raises
    ------
    RegistryError
        If the provenance names no data, or a data hash is empty (missing file).
    """
    entries = {k[len("data."):-len(".md5")]: v for k, v in provenance.items()
               if k.startswith("data.") and k.endswith(".md5")}  # fmt: skip
    if not entries:
        raise RegistryError(
            "provenance names no data (no 'data.<path>.md5' entries); call "
            "skysieve._tracking.provenance([cutout dir, ...]) with the data the model was tested on"
        )
    empty = sorted(k for k, v in entries.items() if not v)
    if empty:
        raise RegistryError(
            f"provenance has no hash for {empty} (missing on disk?); run `dvc repro` or `dvc pull` first"
        )
    if len(entries) == 1:
        return next(iter(entries.values()))
    lines = "\n".join(f"{k}={entries[k]}" for k in sorted(entries))
    return hashlib.md5(lines.encode()).hexdigest()


def _params_dict(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if hasattr(params, "model_dump"):
        return params.model_dump(mode="json")
    return dict(params)


def register_model_version(
    model_uri: str,
    name: str,
    *,
    test_metrics: Mapping[str, Mapping[str, Any]],
    thresholds: Mapping[str, float],
    provenance: Mapping[str, str],
    primary_method: str,
    task: str,
    params: Any = None,
    tags: Mapping[str, Any] | None = None,
    alias: str = CANDIDATE,
) -> ModelVersion:
    """Register a logged model as a new version, tag it, and point ``alias`` at it.

    Parameters
    ----------
    model_uri : str
        A logged model (``ModelInfo.model_uri``, ``runs:/…``, ``models:/m-…``).
    name : str
        Registered model name (created if new).
    test_metrics : mapping of str to mapping, keyword-only
        ``{method: {metric: value}}`` on the test split
        (``EvaluationResult.test.as_dict()`` per method).
    thresholds : mapping of str to float, keyword-only
        Every validation-chosen threshold.
    provenance : mapping of str to str, keyword-only
        From :func:`skysieve._tracking.provenance` over the data the model
        was trained and tested on: its ``git.commit`` becomes the
        ``git_commit`` tag and its ``data.<path>.md5`` entries the
        ``data_hash`` tag (:func:`data_hash_of`); every entry is also a tag.
    primary_method : str, keyword-only
        The method of ``test_metrics`` whose F1 decides promotion.
    task : str, keyword-only
        The search the version serves (:class:`skysieve.tasks.Search` name),
        stored as the ``skysieve.task`` tag that ``skysieve catalog`` dispatches on.
    params : pydantic section or mapping, keyword-only, optional
        The params it was trained with, stored as a JSON tag.
    tags : mapping, keyword-only, optional
        More version tags.
    alias : str, keyword-only
        The alias to set; the pipeline uses ``candidate``.

    Returns
    -------
    ModelVersion
        As re-read after tagging (``.tags``, ``.aliases`` filled).

    Raises
    ------
    RegistryError
        If ``primary_method`` has no F1 in ``test_metrics``, the provenance
        names no data, or ``alias`` is ``champion`` (only :func:`promote` sets it).
    """
    if alias == CHAMPION:
        raise RegistryError(
            "register_model_version cannot set 'champion'; register as candidate, then `skysieve promote`"
        )
    if primary_method not in test_metrics or "f1" not in test_metrics[primary_method]:
        raise RegistryError(
            f"register '{name}': primary_method '{primary_method}' has no test F1 in test_metrics "
            f"(methods: {sorted(test_metrics)}); pass the method whose F1 decides promotion"
        )
    if not task:
        raise RegistryError(f"register '{name}': no task given; pass the name of the search the model serves")
    all_tags: dict[str, str] = {
        TASK_TAG: task,
        "primary_method": primary_method,
        "test_f1": _tag_value(float(test_metrics[primary_method]["f1"])),
        "data_hash": data_hash_of(provenance),
        "git_commit": str(provenance.get("git.commit", "unknown")),
        "params": json.dumps(_params_dict(params), sort_keys=True, default=str),
        **{str(k): str(v) for k, v in provenance.items()},
    }
    for method, metrics in test_metrics.items():
        for key, value in metrics.items():
            all_tags[f"test.{method}.{key}"] = _tag_value(value)
    all_tags.update({f"threshold.{k}": _tag_value(float(v)) for k, v in thresholds.items()})
    all_tags.update({str(k): _tag_value(v) for k, v in (tags or {}).items() if k != TASK_TAG})
    try:
        mv = mlflow.register_model(model_uri, name, tags=all_tags)
    except MlflowException as exc:
        raise RegistryError(f"cannot register {model_uri} as '{name}' in {mlflow.get_registry_uri()}: {exc}") from exc
    client = _client()
    client.set_registered_model_alias(name, alias, mv.version)
    return client.get_model_version(name, str(mv.version))


def register_ensemble(
    ensembles: Ensembles,
    name: str,
    *,
    test_metrics: Mapping[str, Mapping[str, Any]],
    provenance: Mapping[str, str],
    primary_method: str = "rank_product",
    task: str,
    params: Any = None,
    cnn_model_uri: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Log the ensembles as a pyfunc model in an MLflow run and register it as ``candidate``.

    The thresholds (``thresholds.json``) and the reference score distributions
    (``references.npz``) are artifacts of the model and of the run; the
    version's ``reference_scores`` tag points at the latter.

    Parameters
    ----------
    ensembles : Ensembles
        Fitted on validation.
    name : str
        Registered model name.
    test_metrics, provenance, primary_method, task, params, tags
        As :func:`register_model_version`; the provenance and params are also
        logged on the run (:func:`skysieve._tracking.log_provenance`).
    cnn_model_uri : str, keyword-only, optional
        A pinned CNN model (``models:/NAME/VERSION``) that scores cutouts, for
        :meth:`EnsembleModel.predict_cutouts`.

    Returns
    -------
    ModelVersion
        Logged in the active run, or in a new run named ``register`` of the
        search's experiment (``task``) if none.
    """
    import pandas as pd

    from skysieve._tracking import experiment_id

    with tempfile.TemporaryDirectory() as tmp:
        artifacts = write_state(ensembles, tmp)
        refs = ensembles.references()
        example = pd.DataFrame({k: refs[k][:: max(1, len(refs[k]) // 5)][:5] for k in refs})
        active = mlflow.active_run()
        run_ctx = (mlflow.start_run(run_name="register", experiment_id=experiment_id(task)) if active is None
                   else nullcontext(active))
        with run_ctx as run:
            mlflow.log_artifacts(tmp, artifact_path="ensemble")
            info = mlflow.pyfunc.log_model(
                name="ensemble",
                python_model=str(Path(__file__).with_name("_model_code.py")),
                artifacts=artifacts,
                signature=ensemble_signature(),
                input_example=example,
                model_config={"cnn_model_uri": cnn_model_uri} if cnn_model_uri else None,
                pip_requirements=["skysieve", "mlflow", "numpy", "pandas"],
            )
            references_uri = f"runs:/{run.info.run_id}/ensemble/references.npz"  # no local path in the registry
            log_provenance(run.info.run_id, provenance=provenance, params=_params_dict(params) or None)
    extra = {"reference_scores": references_uri, "run_id": run.info.run_id, **(tags or {})}
    if cnn_model_uri:
        extra["cnn_model_uri"] = cnn_model_uri
    return register_model_version(
        info.model_uri,
        name,
        test_metrics=test_metrics,
        thresholds=ensembles.thresholds(),
        provenance=provenance,
        primary_method=primary_method,
        task=task,
        params=params,
        tags=extra,
    )


def load_ensembles(model_uri: str) -> Ensembles:
    """Fitted :class:`Ensembles` from a registered ensemble model (``models:/NAME@champion``).

    Raises
    ------
    RegistryError
        If the URI does not resolve or is not an ensemble model.
    """
    model = _load_pyfunc(model_uri)
    inner = model.unwrap_python_model()
    if not isinstance(inner, EnsembleModel):
        raise RegistryError(f"{model_uri} is a {type(inner).__name__}, not a skysieve ensemble model")
    return inner.ensembles


def _load_pyfunc(model_uri: str) -> Any:
    if model_uri.startswith("models:/"):
        ref = model_uri.removeprefix("models:/")
        if "@" in ref:
            name, alias = ref.split("@", 1)
            get_model_version(name, alias=alias)
        elif "/" in ref:
            name, version = ref.split("/", 1)
            if version.isdigit():
                get_model_version(name, version=version)
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except MlflowException as exc:
        raise RegistryError(f"cannot load model {model_uri}: {exc}") from exc


def load_reference_distributions(
    name: str, *, version: str | int | None = None, alias: str | None = None
) -> dict[str, ReferenceDistribution]:
    """The reference score distributions stored with a version (its ``reference_scores`` artifact).

    Returns
    -------
    dict of str to ReferenceDistribution
        Keyed ``cnn_prob`` and ``mf_snr``.

    Raises
    ------
    RegistryError
        Unknown model/version/alias, or a version registered without them.
    """
    mv = get_model_version(name, version=version, alias=alias)
    uri = mv.tags.get("reference_scores")
    if not uri:
        raise RegistryError(
            f"model '{name}' v{mv.version} has no 'reference_scores' tag; register it with register_ensemble"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        except (MlflowException, OSError) as exc:
            raise RegistryError(f"model '{name}' v{mv.version}: cannot download {uri} ({exc})") from exc
        with np.load(local) as npz:
            return {k: ReferenceDistribution(npz[k], name=k) for k in npz.files}


def champion_history(name: str) -> list[dict[str, Any]]:
    """Every champion change of a registered model, oldest first (``promote`` / ``rollback`` events)."""
    model = _registered_model(_client(), name)
    raw = model.tags.get(HISTORY_TAG)
    return json.loads(raw) if raw else []


def _champion_stack(history: list[dict[str, Any]]) -> list[str]:
    stack: list[str] = []
    for event in history:
        if event["action"] == "promote":
            stack.append(str(event["version"]))
        elif event["action"] == "rollback" and stack:
            stack.pop()
    return stack


def _append_history(client: MlflowClient, name: str, history: list[dict[str, Any]], event: dict[str, Any]) -> None:
    history = [*history, event]
    text = json.dumps(history)
    while len(text) > 90_000 or len(history) > _HISTORY_MAX:  # stay under MLflow's tag-value limit
        history = history[1:]
        text = json.dumps(history)
    client.set_registered_model_tag(name, HISTORY_TAG, text)


def _lock_state(client: MlflowClient, lock: str) -> dict[str, Any] | None:
    try:
        tags = client.get_registered_model(lock).tags
    except MlflowException:
        return None  # released meanwhile
    try:
        return json.loads(tags.get(_LOCK_TAG, "{}"))
    except ValueError:
        return {}


@contextmanager
def champion_lock(name: str, *, client: MlflowClient | None = None, timeout: float = _LOCK_WAIT_S,
                  ttl: float = _LOCK_TTL_S) -> Iterator[None]:
    """Hold the champion lock of registered model ``name`` (see the module notes).

    The lock is the registered model ``<name>.champion-lock``: creating it
    succeeds for exactly one caller on any MLflow store; releasing deletes
    it. A lock older than ``ttl`` seconds (its holder died) is broken.

    Raises
    ------
    RegistryError
        Still held by someone else after ``timeout`` seconds; the message names the holder.
    """
    client = client or _client()
    lock = f"{name}{LOCK_SUFFIX}"
    token = {"id": uuid.uuid4().hex, "by": f"{socket.gethostname()}:{os.getpid()}", "at": time.time()}
    deadline = time.monotonic() + timeout
    while True:
        token["at"] = time.time()
        try:
            client.create_registered_model(
                lock, tags={_LOCK_TAG: json.dumps(token)},
                description=f"held by `skysieve promote` while it changes the champion of '{name}'; "
                            "delete it only if no promotion is running")
            break
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS" and "already exists" not in str(exc).lower():
                if time.monotonic() > deadline:
                    raise RegistryError(f"model '{name}': cannot take the champion lock ({exc})") from exc
                time.sleep(0.2)  # a busy store (SQLite locked): try again
                continue
        held = _lock_state(client, lock)
        if held is not None and time.time() - float(held.get("at", time.time())) > ttl:
            again = _lock_state(client, lock)
            if again == held:  # still the same stale holder: break it
                try:
                    client.delete_registered_model(lock)
                except MlflowException:
                    pass
            continue
        if time.monotonic() > deadline:
            who = f"{held.get('by', '?')} since {datetime.fromtimestamp(float(held.get('at', 0)), UTC):%H:%M:%S}Z" \
                if held else "?"
            raise RegistryError(
                f"model '{name}': another promotion holds the lock '{lock}' ({who}); wait and try again, or, "
                f"if no promotion is running, delete the registered model '{lock}'")
        time.sleep(0.05 + 0.15 * random.random())
    try:
        yield
    finally:
        if (_lock_state(client, lock) or {}).get("id") == token["id"]:
            try:
                client.delete_registered_model(lock)
            except MlflowException:
                pass


@dataclass(frozen=True)
class PromotionResult:
    """What :func:`promote` or :func:`rollback` did.

    Attributes
    ----------
    name : str
    version : str
        The version ``champion`` now points at.
    previous : str or None
        The version it pointed at before (None if there was no champion).
    changed : bool
        False when the version was already champion.
    forced : bool
    test_f1, previous_f1 : float or None
    message : str
        One line for people.
    """

    name: str
    version: str
    previous: str | None
    changed: bool
    forced: bool
    test_f1: float | None
    previous_f1: float | None
    message: str


def _f1(mv: ModelVersion) -> float:
    try:
        return float(mv.tags["test_f1"])
    except (KeyError, ValueError):
        raise RegistryError(
            f"model '{mv.name}' v{mv.version} has no numeric 'test_f1' tag; register it with "
            "skysieve (register_model_version) so its test metrics are recorded"
        ) from None


def promote(
    name: str,
    *,
    version: str | int | None = None,
    force: bool = False,
    reason: str | None = None,
    user: str | None = None,
) -> PromotionResult:
    """Move ``champion`` to the candidate if it is at least as good on the same test data.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str or int, keyword-only, optional
        The version to promote; default the one ``candidate`` points at.
    force : bool, keyword-only
        Promote even if its test F1 is lower or its test data differ.
    reason : str, keyword-only, optional
        Required with ``force``; recorded with who and when as version tags.
    user : str, keyword-only, optional
        Who is promoting; default ``$MLFLOW_TRACKING_USERNAME`` or the login name.

    Returns
    -------
    PromotionResult

    Raises
    ------
    RegistryError
        Unknown model / version / no candidate; the candidate's test F1 is
        below the champion's on the same data (both figures in the message);
        the test data differ; ``force`` without ``reason``.
    """
    if force and not (reason and reason.strip()):
        raise RegistryError("--force needs --reason TEXT: say why this version must be champion (it is recorded)")
    client = _client()
    _registered_model(client, name)  # an unknown name fails before taking the lock
    with champion_lock(name, client=client):
        return _promote(client, name, version=version, force=force, reason=reason, user=user)


def _promote(client: MlflowClient, name: str, *, version: str | int | None, force: bool, reason: str | None,
             user: str | None) -> PromotionResult:
    model = _registered_model(client, name)
    if version is not None:
        candidate = get_model_version(name, version=version)
    else:
        candidate = get_model_version(name, alias=CANDIDATE)
    cand_v, cand_f1 = str(candidate.version), _f1(candidate)
    champ_v = str(model.aliases[CHAMPION]) if CHAMPION in model.aliases else None
    champion = client.get_model_version(name, champ_v) if champ_v is not None else None
    champ_f1 = None
    if champion is not None:
        try:
            champ_f1 = _f1(champion)
        except RegistryError:
            if not force:
                raise
            champ_f1 = float("nan")  # a champion registered outside skysieve: only --force replaces it

    if champ_v == cand_v:
        return PromotionResult(name, cand_v, champ_v, False, False, cand_f1, cand_f1,
                               f"'{name}' v{cand_v} is already champion (test F1 {cand_f1:.4f})")  # fmt: skip

    forced_over = None
    if champion is not None:
        cand_hash, champ_hash = candidate.tags.get("data_hash"), champion.tags.get("data_hash")
        if cand_hash != champ_hash:
            if not force:
                raise RegistryError(
                    f"refusing to promote '{name}' v{cand_v}: its test data differ from champion v{champ_v}'s "
                    f"(data_hash {cand_hash} vs {champ_hash}), so test F1 {cand_f1:.4f} vs {champ_f1:.4f} is not "
                    "a fair comparison; evaluate both on the same data, or pass --force --reason TEXT"
                )
            forced_over = "different test data"
        elif cand_f1 < champ_f1:
            if not force:
                raise RegistryError(
                    f"refusing to promote '{name}' v{cand_v}: test F1 {cand_f1:.4f} is below champion v{champ_v}'s "
                    f"{champ_f1:.4f} on the same test data (data_hash {cand_hash}); "
                    "pass --force --reason TEXT to override"
                )
            forced_over = "lower test F1"

    history = champion_history(name)
    stack = _champion_stack(history)
    if champion is not None and (not stack or stack[-1] != champ_v):
        # a champion set outside skysieve: record it so rollback can reach it
        history = [*history, {"action": "promote", "version": champ_v, "previous": None, "at": None, "by": None,
                    "test_f1": champ_f1, "forced": False, "reason": "found as champion"}]  # fmt: skip
    who, when = _who(user), _now()
    client.set_registered_model_alias(name, CHAMPION, cand_v)
    stamp = {"promoted_by": who, "promoted_at": when, "promoted_over": champ_v or "none"}
    if force:
        stamp.update({"forced": "true", "force_reason": reason.strip(), "forced_by": who, "forced_at": when,
                      "forced_over": forced_over or "nothing (the promotion would have passed)"})  # fmt: skip
    for key, value in stamp.items():
        client.set_model_version_tag(name, cand_v, key, value)
    event = {"action": "promote", "version": cand_v, "previous": champ_v, "at": when, "by": who,
             "test_f1": cand_f1, "forced": bool(force), "reason": reason.strip() if reason else None}  # fmt: skip
    _append_history(client, name, history, event)
    before = f"v{champ_v} (test F1 {champ_f1:.4f})" if champion is not None else "no champion"
    verb = "forced" if force else "promoted"
    return PromotionResult(name, cand_v, champ_v, True, bool(force), cand_f1, champ_f1,
                           f"{verb} '{name}' v{cand_v} (test F1 {cand_f1:.4f}) to champion over {before}")  # fmt: skip


def rollback(name: str, *, user: str | None = None, reason: str | None = None) -> PromotionResult:
    """Point ``champion`` back at the version it held before the last promotion.

    Rollbacks unwind the history like a stack: two rollbacks after three
    promotions land on the first champion.

    Raises
    ------
    RegistryError
        No champion, or no earlier champion to go back to.
    """
    client = _client()
    _registered_model(client, name)
    with champion_lock(name, client=client):
        return _rollback(client, name, user=user, reason=reason)


def _rollback(client: MlflowClient, name: str, *, user: str | None, reason: str | None) -> PromotionResult:
    model = _registered_model(client, name)
    current = str(model.aliases[CHAMPION]) if CHAMPION in model.aliases else None
    if current is None:
        raise RegistryError(f"model '{name}' has no champion to roll back; promote a version first")
    history = champion_history(name)
    stack = _champion_stack(history)
    if not stack or stack[-1] != current:
        raise RegistryError(
            f"model '{name}': champion is v{current} but the promotion history ends at "
            f"{'v' + stack[-1] if stack else 'nothing'} (the alias was moved outside skysieve); "
            "set the champion with `skysieve promote NAME --version V --force --reason TEXT`"
        )
    if len(stack) < 2:
        raise RegistryError(
            f"model '{name}': v{current} is the first champion; there is no earlier one to roll back to"
        )
    target = stack[-2]
    target_mv = get_model_version(name, version=target)
    who, when = _who(user), _now()
    client.set_registered_model_alias(name, CHAMPION, target)
    for key, value in {"rolled_back_by": who, "rolled_back_at": when, "rolled_back_from": current}.items():
        client.set_model_version_tag(name, target, key, value)
    event = {"action": "rollback", "version": target, "previous": current, "at": when, "by": who,
             "reason": reason}  # fmt: skip
    _append_history(client, name, history, event)
    target_f1 = float(target_mv.tags["test_f1"]) if "test_f1" in target_mv.tags else None
    current_f1 = float(client.get_model_version(name, current).tags.get("test_f1", "nan"))
    return PromotionResult(name, target, current, True, False, target_f1, current_f1,
                           f"rolled back '{name}' champion from v{current} to v{target}")  # fmt: skip
