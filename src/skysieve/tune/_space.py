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
    dimension (beyond ``low``/``high``, off the ``step`` grid, not one of
    ``choices``) would be a trial the sampler could never propose, so it is
    refused.

    Raises
    ------
    ConfigError
        Naming the key, the train section's value and the dimension.
    """
    values: dict[str, Any] = {}
    for key, dim in space.items():
        value: Any = base
        for part in key.split("."):
            value = getattr(value, part, None)
        if dim.type == "categorical":
            inside = value in dim.choices
        else:
            inside = isinstance(value, int | float) and dim.low <= value <= dim.high
            if inside and (dim.step or dim.type == "int"):
                k = (value - dim.low) / (dim.step or 1)
                inside = abs(k - round(k)) < 1e-9
        if not inside:
            where = (f"one of {list(dim.choices)}" if dim.type == "categorical" else
                     f"{dim.low:g}…{dim.high:g}" + (f" in steps of {dim.step:g}" if dim.step else ""))
            raise ConfigError(f"{source}: enqueue_base: the train section's {key} = {value!r} is outside the "
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
