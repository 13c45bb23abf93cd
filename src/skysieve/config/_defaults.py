"""Laying a partial params section over a search's own defaults."""

from collections.abc import Mapping
from typing import Any

from skysieve.config._base import Section

__all__ = ["over_defaults"]


def over_defaults(defaults: Section, value: Any) -> Any:
    """Lay a partial ``params.yaml`` section over a search's own defaults (before validation).

    ``train_<search>: {epochs: 2}`` must mean "the search's recipe with 2
    epochs", not the generic :class:`TrainParams` defaults with 2 epochs.  Keys given
    replace the defaults'; a nested section given in part (``optimizer:
    {learning_rate: 3e-3}``) keeps the defaults' other keys, except ``net``
    when it names another architecture (that architecture's own defaults
    apply) and ``search_space`` (a given space replaces the default one).
    Anything that is not a mapping (an already-built section) passes through.
    """
    if not isinstance(value, Mapping):
        return value
    base = defaults.model_dump(mode="json")
    merged = dict(base)
    for key, given in value.items():
        old = base.get(key)
        if not (isinstance(old, dict) and isinstance(given, Mapping)) or key == "search_space":
            merged[key] = given
        elif key == "net" and given.get("name", old["name"]) != old["name"]:
            merged[key] = given
        else:
            merged[key] = {**old, **given}
    return merged
