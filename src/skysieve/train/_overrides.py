"""Dotted-key overrides of a train section (Optuna trials, tuned best params)."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from skysieve.config import TrainParams
from skysieve.config._train import ResNetSmallParams, ScVggParams, VggParams
from skysieve.errors import ConfigError

__all__ = ["override_keys", "with_overrides"]

_NETS = {c.model_fields["name"].default: c for c in (ResNetSmallParams, VggParams, ScVggParams)}


def override_keys(cfg: TrainParams) -> set[str]:
    """Every dotted key ``with_overrides`` accepts for ``cfg`` (all architectures' ``net.*`` keys included)."""

    def walk(model: Any, prefix: str) -> set[str]:
        keys = set()
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                keys |= walk(value, f"{prefix}{name}.")
            else:
                keys.add(f"{prefix}{name}")
        return keys

    keys = {k for k in walk(cfg, "") if not k.startswith("net.")}
    for net_cls in _NETS.values():
        keys |= {f"net.{k}" for k in net_cls.model_fields}
    return keys


def with_overrides(cfg: TrainParams, overrides: Mapping[str, Any], *, source: str = "overrides") -> TrainParams:
    """A copy of ``cfg`` with dotted keys set (``{"optimizer.learning_rate": 1e-3, "net.width": 8}``).

    ``net.name`` switches architecture (its section restarts from that
    architecture's defaults); ``net.*`` keys the chosen architecture lacks are
    ignored, so one search space can hold conditional parameters.

    Raises
    ------
    ConfigError
        Unknown key or invalid value; the message names ``source``, the key
        and the value.
    """
    data = cfg.model_dump()
    known = override_keys(cfg)
    items = sorted(overrides.items(), key=lambda kv: kv[0] != "net.name")
    for key, value in items:
        if key not in known:
            raise ConfigError(f"{source}: unknown train key {key!r}; use a dotted path into the train section "
                              f"such as optimizer.learning_rate, net.width or batch_size")
        if key == "net.name":
            if value not in _NETS:
                raise ConfigError(f"{source}: net.name must be one of {sorted(_NETS)} (got {value!r})")
            if value != data["net"]["name"]:
                data["net"] = {"name": value}
            continue
        parts = key.split(".")
        if parts[0] == "net" and parts[1] not in _NETS[data["net"]["name"]].model_fields:
            continue
        node = data
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    try:
        return TrainParams.model_validate(data)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors())
        raise ConfigError(f"{source}: invalid train params after overrides: {msgs}") from None
