"""Configs a search stores with a model version, read back from its documents.

A search stores its catalog config as a JSON document of the version (the
artifact ``skysieve/<name>.json`` of the logged model, see
:func:`skysieve.registry.read_version_documents`), beside the whole params
(``skysieve/params.json``).  Versions registered before documents existed
kept both as JSON version tags; those are still read.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from skysieve.errors import ConfigError, RegistryError

__all__ = ["read_stored_config"]


def _legacy(tags: Mapping[str, str], key: str, where: str, fix: str) -> Any:
    try:
        return json.loads(tags[key]) if key in tags else None
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{where}: tag '{key}' is not JSON ({exc}); {fix}") from None


def read_stored_config(documents: Mapping[str, Any], name: str, model: type[BaseModel], *,
                       tags: Mapping[str, str] | None = None, expected_format: str, what: str, where: str, fix: str,
                       sections: tuple[str, ...], from_params: Callable[[dict[str, Any]], Any]) -> Any:
    """A config stored with a model version: document ``name`` validated as ``model``, else rebuilt from ``params``.

    A version without the document whose ``params`` document holds every
    section of ``sections`` gets ``from_params(<params as a dict>)``.

    Parameters
    ----------
    documents : mapping of str to JSON data
        The version's documents (:func:`skysieve.registry.read_version_documents`).
    name : str
        The document (``catalog_config``: artifact ``skysieve/catalog_config.json``).
    model, expected_format :
        The pydantic model of its JSON and the ``format`` it must carry.
    tags : mapping of str to str, keyword-only, optional
        The version's tags: a version registered before documents existed
        holds ``name`` and ``params`` as JSON tags.
    what, where, fix : str
        The config's name, the version (``model 'x' v3``) and how to register one, for messages.
    sections : tuple of str
    from_params : callable

    Raises
    ------
    RegistryError
        If the document holds no valid ``model`` or another ``format``, or
        neither it nor the params give a config (no params, a section
        missing, or sections that do not validate: the message carries the
        validation error); the message names ``where`` and ends with ``fix``.
    """
    tags = tags or {}
    stored = f"document '{name}' (artifact skysieve/{name}.json)"
    raw = documents.get(name)
    if raw is None:
        raw = _legacy(tags, name, where, fix)
    if raw is not None:
        try:
            cfg = model.model_validate(raw)
        except ValidationError as exc:
            raise RegistryError(f"{where}: {stored} is not a valid {what} ({exc}); {fix}") from None
        if cfg.format != expected_format:
            raise RegistryError(f"{where}: {what} format {cfg.format!r} is not {expected_format!r}, the one this "
                                "skysieve reads; use the skysieve version that registered it")
        return cfg
    payload = documents.get("params")
    if payload is None:
        payload = _legacy(tags, "params", where, fix)
    if isinstance(payload, dict) and set(sections) <= set(payload):
        try:
            return from_params(payload)
        except (ValidationError, TypeError, ConfigError) as exc:
            raise RegistryError(f"{where} has no {stored}, and its stored params do not give a valid {what} "
                                f"({exc}); {fix}") from None
    raise RegistryError(f"{where} has no {stored} (and its stored params lack the sections "
                        f"{', '.join(sections)}); {fix}")
