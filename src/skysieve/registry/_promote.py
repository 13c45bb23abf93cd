"""Promoting a version to ``champion`` with a guard, and rolling back.

Only :func:`promote` moves ``champion``, and only to a candidate evaluated on
the same test data (same ``data_hash`` tag) whose test F1 is not worse than
the champion's beyond the noise — paired bootstrap of the F1 difference where
both versions stored their per-object test decisions, else their 95 %
intervals, else the bare figures (:mod:`skysieve.registry._uncertainty`) —
unless forced with a recorded reason.  Every champion change is appended to
the registered model's ``champion_history`` tag, so :func:`rollback` can go
back.

Champion changes are serialised across processes and hosts by a lock that
works on every MLflow store (SQLite file, database, tracking server): a
registered model named ``<name>.champion-lock``, which the store lets only one
caller create. Two ``skysieve promote`` at once therefore run one after the
other — the second sees the first's champion — leaving one champion and a
history in which every event follows the one before.
"""


import getpass
import json
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from skysieve.errors import RegistryError
from skysieve.registry._uncertainty import PREDICTIONS_DOCUMENT, Comparison, compare_versions
from skysieve.registry._versions import CANDIDATE, CHAMPION, _client, _registered_model, get_model_version

__all__ = ["HISTORY_TAG", "LOCK_SUFFIX", "PromotionResult", "champion_history", "champion_lock", "promote", "rollback"]

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
    comparison : Comparison or None
        How the candidate compared with the champion (None without one).
    """

    name: str
    version: str
    previous: str | None
    changed: bool
    forced: bool
    test_f1: float | None
    previous_f1: float | None
    message: str
    comparison: Comparison | None = None


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
        Promote even if its test F1 is worse beyond the noise or its test data differ.
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
        worse than the champion's beyond the noise on the same data (both
        figures with their intervals, and the paired difference's, in the
        message); the test data differ; ``force`` without ``reason``.
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
    comparison = None
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
        else:
            comparison = _compare(name, candidate, champion, cand_f1, champ_f1)
            if comparison.worse and not force:
                if comparison.kind == "point":
                    raise RegistryError(
                        f"refusing to promote '{name}' v{cand_v}: test F1 {cand_f1:.4f} is below champion "
                        f"v{champ_v}'s {champ_f1:.4f} on the same test data (data_hash {cand_hash}); "
                        "pass --force --reason TEXT to override"
                    )
                raise RegistryError(
                    f"refusing to promote '{name}' v{cand_v}: worse than champion v{champ_v} beyond the noise on "
                    f"the same test data (data_hash {cand_hash}): {comparison.text}; "
                    "pass --force --reason TEXT to override"
                )
            if comparison.worse:
                forced_over = "lower test F1" if comparison.kind == "point" else "lower test F1 beyond the noise"

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
    if comparison is not None:
        event["comparison"] = comparison.text
    _append_history(client, name, history, event)
    before = f"v{champ_v} (test F1 {champ_f1:.4f})" if champion is not None else "no champion"
    verb = "forced" if force else "promoted"
    message = f"{verb} '{name}' v{cand_v} (test F1 {cand_f1:.4f}) to champion over {before}"
    if comparison is not None:
        message += f" — {comparison.text}"
    return PromotionResult(name, cand_v, champ_v, True, bool(force), cand_f1, champ_f1, message, comparison)


def _compare(name: str, candidate: ModelVersion, champion: ModelVersion, cand_f1: float,
             champ_f1: float) -> Comparison:
    """:func:`compare_versions` of two versions, reading their test decisions where both stored them."""
    from skysieve.registry._describe import read_version_documents

    cand_pred = champ_pred = None
    if candidate.tags.get(PREDICTIONS_DOCUMENT) == "stored" and champion.tags.get(PREDICTIONS_DOCUMENT) == "stored":
        cand_pred = read_version_documents(name, candidate.version).get(PREDICTIONS_DOCUMENT)
        champ_pred = read_version_documents(name, champion.version).get(PREDICTIONS_DOCUMENT)
    return compare_versions(cand_f1=cand_f1, champ_f1=champ_f1 if champ_f1 == champ_f1 else float("-inf"),
                            cand_tags=candidate.tags, champ_tags=champion.tags, cand_predictions=cand_pred,
                            champ_predictions=champ_pred)


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
