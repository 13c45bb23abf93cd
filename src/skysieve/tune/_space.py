"""The search space declared in params, turned into Optuna suggestions."""

from collections.abc import Mapping
from typing import Any

from skysieve.config import SearchDimension, TrainParams
from skysieve.errors import ConfigError
from skysieve.train import override_keys

__all__ = ["check_search_space", "suggest"]


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
