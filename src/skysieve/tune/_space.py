"""The search space declared in params, turned into Optuna suggestions."""

from collections.abc import Mapping
from typing import Any

from skysieve.config import SearchDimension, TrainParams
from skysieve.errors import ConfigError
from skysieve.train import override_keys

__all__ = ["base_values", "check_search_space", "suggest"]


def check_search_space(space: Mapping[str, SearchDimension], base: TrainParams, *, source: str) -> None:
    """Fail early, naming the key, if a search-space key is no dotted path of the train section.

    Raises
    ------
    ConfigError
    """
    known = override_keys(base)
    for key in space:
        if key not in known:
            close = sorted(k for k in known if k.split(".")[-1] == key.split(".")[-1])
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{source}.search_space: {key!r} is not a key of the train section{hint}")
    if not space:
        raise ConfigError(f"{source}.search_space: empty; declare at least one parameter to search")


def base_values(space: Mapping[str, SearchDimension], base: TrainParams, *, source: str) -> dict[str, Any]:
    """The train section's own value of every searched key, checked to lie in its dimension.

    What ``enqueue_base`` makes the study's first trial: a value outside its
    dimension (beyond ``low``/``high``, off the ``step`` grid as
    :func:`suggest` draws it, not one of ``choices``, a bool where a number
    is searched) would be a trial the sampler could never propose, so it is
    refused. ``net.*`` keys that the configured architecture does not have
    (a conditional search space) are left out: the sampler draws them.

    Raises
    ------
    ConfigError
        Naming the key, the train section's value and the dimension.
    """
    missing = object()
    values: dict[str, Any] = {}
    for key, dim in space.items():
        value: Any = base
        for part in key.split("."):
            value = getattr(value, part, missing)
            if value is missing:
                break
        if value is missing and key.startswith("net."):
            continue
        if dim.type == "categorical":
            inside = any(type(c) is type(value) and c == value for c in dim.choices)
        else:
            low, high, step = (int(dim.low), int(dim.high), int(dim.step or 1)) if dim.type == "int" else (
                dim.low, dim.high, dim.step)
            inside = isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
            if inside and step:
                k = (value - low) / step
                inside = abs(k - round(k)) < 1e-8
        if not inside:
            where = (f"one of {list(dim.choices)}" if dim.type == "categorical" else
                     f"{dim.low:g}…{dim.high:g}" + (f" in steps of {dim.step:g}" if dim.step else ""))
            shown = "missing" if value is missing else repr(value)
            raise ConfigError(f"{source}: enqueue_base: the train section's {key} = {shown} is outside the "
                              f"search space ({where}); set it inside, widen the space, or set enqueue_base: false")
        values[key] = value
    return values


def suggest(trial: Any, space: Mapping[str, SearchDimension]) -> dict[str, Any]:
    """Draw one value per dimension from an Optuna trial.

    Parameters
    ----------
    trial : optuna.Trial
    space : mapping of dotted key → SearchDimension

    Returns
    -------
    dict
        Dotted key → value, ready for :func:`skysieve.train.with_overrides`.
    """
    values: dict[str, Any] = {}
    for key, dim in space.items():
        if dim.type == "categorical":
            values[key] = trial.suggest_categorical(key, list(dim.choices))
        elif dim.type == "int":
            values[key] = trial.suggest_int(key, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log)
        else:
            values[key] = trial.suggest_float(key, dim.low, dim.high, step=dim.step, log=dim.log)
    return values
