"""Configs a search stores with a model version as a JSON tag, read back with a fallback to the ``params`` tag."""

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from skysieve.errors import ConfigError, RegistryError

__all__ = ["read_tagged_config"]


def read_tagged_config(tags: Mapping[str, str], tag: str, model: type[BaseModel], *, expected_format: str,
                       what: str, where: str, fix: str, sections: tuple[str, ...],
                       from_params: Callable[[dict[str, Any]], Any]) -> Any:
    """A config stored with a model version: tag ``tag`` validated as ``model``, else rebuilt from ``params``.

    A version registered without the tag but whose ``params`` tag holds
    every section of ``sections`` gets ``from_params(<params as a dict>)``.

    Parameters
    ----------
    tags : mapping of str to str
        The model version's tags.
    tag, model, expected_format :
        The tag, the pydantic model of its JSON and the ``format`` it must carry.
    what, where, fix : str
        The config's name, the version (``model 'x' v3``) and how to register one, for messages.
    sections : tuple of str
    from_params : callable

    Raises
    ------
    RegistryError
        If the tag holds no valid ``model`` or another ``format``, or neither
        tag gives a config (the ``params`` tag is not JSON, lacks a section,
        or its sections do not validate: the message carries the validation
        error); the message names ``where`` and ends with ``fix``.
    """
    raw = tags.get(tag)
    if raw is not None:
        try:
            cfg = model.model_validate(json.loads(raw))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise RegistryError(f"{where}: tag '{tag}' is not a valid {what} ({exc}); {fix}") from None
        if cfg.format != expected_format:
            raise RegistryError(f"{where}: {what} format {cfg.format!r} is not {expected_format!r}, the one this "
                                "skysieve reads; use the skysieve version that registered it")
        return cfg
    try:
        payload = json.loads(tags["params"]) if "params" in tags else {}
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{where} has no '{tag}' tag and its 'params' tag is not JSON ({exc}); {fix}") from None
    if isinstance(payload, dict) and set(sections) <= set(payload):
        try:
            return from_params(payload)
        except (ValidationError, TypeError, ConfigError) as exc:
            raise RegistryError(f"{where} has no '{tag}' tag, and its 'params' tag does not give a valid {what} "
                                f"({exc}); {fix}") from None
    raise RegistryError(f"{where} has no '{tag}' tag (and its 'params' tag lacks the sections "
                        f"{', '.join(sections)}); {fix}")
