"""The root params model, composed from the engine's sections and every search's, and :func:`load_params`.

:func:`load_params` is the only place YAML is read.  The root model is built
once from the search registry (:mod:`skysieve.tasks`): the engine owns
``cosmology``; each search owns the sections it declares
(:meth:`skysieve.tasks.Search.sections`).  ``Params`` is that model.
"""

import functools
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, create_model, field_validator

from skysieve._io import load_yaml
from skysieve.config._base import Section
from skysieve.config._defaults import over_defaults
from skysieve.config._sim import CosmologyParams
from skysieve.errors import ConfigDeprecationWarning, ConfigError

__all__ = ["load_params", "params_model"]

#: The sections the engine owns, shared by searches.
_ENGINE_SECTIONS: dict[str, tuple[type[Section], Any]] = {"cosmology": (CosmologyParams, CosmologyParams)}


@functools.cache
def params_model() -> type[Section]:
    """The root params model: the engine's sections and every registered search's.

    Raises
    ------
    ConfigError
        Two searches (or a search and the engine) own the same section.
    """
    from pydantic import Field

    from skysieve.tasks import searches

    fields: dict[str, Any] = {name: (model, Field(default_factory=factory))
                              for name, (model, factory) in _ENGINE_SECTIONS.items()}
    owner = dict.fromkeys(fields, "the engine")
    merged: dict[str, Any] = {}
    for search in searches().values():
        for spec in search.sections():
            if spec.name in owner:
                raise ConfigError(f"params section '{spec.name}' is declared by search '{search.name}' and by "
                                  f"{owner[spec.name]}; rename one")
            owner[spec.name] = f"search '{search.name}'"
            fields[spec.name] = (spec.model, Field(default_factory=spec.default_value))
            if spec.merge_defaults:
                merged[spec.name] = spec.default_value

    def _merge(cls, value, info):
        return over_defaults(merged[info.field_name](), value)

    validators = {f"_merge_{name}": field_validator(name, mode="before")(_merge) for name in merged}
    model = create_model("Params", __base__=Section, __validators__=validators, **fields)
    model.__doc__ = "Every section of ``params.yaml``; each stage reads only its own."
    model.__module__ = __name__
    return model


def _describe(err: dict, path: Path) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = err["loc"][:-1]
        model = params_model()
        for key in parent:
            field = model.model_fields.get(str(key)) if isinstance(key, str) else None
            annot = getattr(field, "annotation", None) if field else None
            if isinstance(annot, type) and issubclass(annot, Section):
                model = annot
            else:
                model = None
                break
        allowed = f"; allowed keys: {', '.join(model.model_fields)}" if model is not None else ""
        return f"{path}: unknown key '{loc}'{allowed}"
    if kind == "missing":
        return f"{path}: missing required key '{loc}'"
    got = err.get("input")
    got_text = "" if isinstance(got, dict) else f" (got {got!r})"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{path}: {loc}: {msg}{got_text}" if loc else f"{path}: {msg}{got_text}"


def load_params(path: str | Path = "params.yaml") -> Any:
    """Read and validate a params file.

    Parameters
    ----------
    path : str or Path
        A YAML file with one mapping per stage section. Sections or keys that
        are absent take the defaults of the default pipeline.

    Returns
    -------
    Params
        The frozen, validated params.

    Raises
    ------
    ConfigError
        If the file is missing or not YAML, or a key is unknown, of the wrong
        type or out of range; the message names the file, the dotted key, the
        value received and what is allowed.

    Warns
    -----
    ConfigDeprecationWarning
        For a value under an old name that is still accepted (``mf_sz.sources:
        detect``, now ``find``); the message names the file and the new name.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; pass --params PATH or run from the repository root")
    try:
        raw = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    model = params_model()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigDeprecationWarning)
            params = model.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(e, path) for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    for w in caught:  # old value names: the person must learn which file to edit
        if issubclass(w.category, ConfigDeprecationWarning):
            warnings.warn(f"{path}: {w.message}", w.category, stacklevel=2)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return params
