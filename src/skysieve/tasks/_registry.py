"""The registry of searches: filled from the ``skysieve.tasks`` entry-point group.

Searches come from three places, in this order:

1. the ``skysieve.tasks`` entry points of every installed distribution
   (skysieve's own ``sz`` and ``lens``, or a separate package's);
2. ``$SKYSIEVE_TASKS``, a comma-separated list of ``module:attribute``
   (like ``PYTEST_PLUGINS``), for a search that is not installed — a checkout
   of a new search, or one defined in the tests;
3. :func:`register_search`, from Python.

Each entry names a :class:`~skysieve.tasks.Search` instance (or class,
instantiated without arguments).  Nothing is imported until a function here
is called.
"""

import importlib
import os
import re
from importlib.metadata import entry_points

from skysieve.errors import ConfigError
from skysieve.tasks._contract import Search

__all__ = ["ENTRY_POINT_GROUP", "TASKS_ENV", "get_search", "register_search", "reset_searches", "searches"]

ENTRY_POINT_GROUP = "skysieve.tasks"
TASKS_ENV = "SKYSIEVE_TASKS"

_NAME = re.compile(r"^[a-z][a-z0-9]*$")
_loaded: dict[str, Search] | None = None
_extra: dict[str, Search] = {}


def _instance(obj: object, where: str) -> Search:
    if isinstance(obj, type) and issubclass(obj, Search):
        obj = obj()
    if not isinstance(obj, Search):
        raise ConfigError(f"{where}: {obj!r} is not a skysieve.tasks.Search (subclass it and register an instance)")
    if not isinstance(getattr(obj, "name", None), str) or not _NAME.match(obj.name):
        raise ConfigError(f"{where}: search name {getattr(obj, 'name', None)!r} must be lowercase letters and digits "
                          "(it becomes a params suffix, a DVC stage suffix and a command word)")
    return obj


def _add(found: dict[str, Search], search: Search, where: str) -> None:
    old = found.get(search.name)
    if old is not None and type(old) is not type(search):
        raise ConfigError(f"{where}: a second search named '{search.name}' ({type(search).__qualname__}; the first "
                          f"is {type(old).__module__}.{type(old).__qualname__}); rename one")
    found[search.name] = search


def _load() -> dict[str, Search]:
    found: dict[str, Search] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        where = f"entry point {ep.name} = {ep.value} (group {ENTRY_POINT_GROUP})"
        try:
            obj = ep.load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where}: cannot load it ({exc}); reinstall the package that provides it "
                              "(make install)") from exc
        _add(found, _instance(obj, where), where)
    for spec in filter(None, (s.strip() for s in os.environ.get(TASKS_ENV, "").split(","))):
        where = f"${TASKS_ENV} entry {spec!r}"
        module, _, attr = spec.partition(":")
        if not attr:
            raise ConfigError(f"{where}: expected module:attribute (e.g. my_package.blobs:search)")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{where}: cannot load it ({exc})") from exc
        _add(found, _instance(obj, where), where)
    return found


def searches() -> dict[str, Search]:
    """Every registered search by name, in name order."""
    global _loaded
    if _loaded is None:
        _loaded = _load()
    merged = {**_loaded, **_extra}
    return dict(sorted(merged.items()))


def get_search(name: str) -> Search:
    """The search called ``name``.

    Raises
    ------
    ConfigError
        No such search; the message lists the registered ones.
    """
    found = searches()
    if name not in found:
        raise ConfigError(f"no search named '{name}'; registered searches: {', '.join(found) or 'none'} "
                          f"(entry-point group {ENTRY_POINT_GROUP}, or ${TASKS_ENV}=module:attribute)")
    return found[name]


def register_search(search: Search | type[Search]) -> Search:
    """Add a search from Python (tests, notebooks); returns the instance.

    The root params model and the command line are built from the registry
    when first needed: register before calling them, or call
    :func:`reset_searches` and rebuild.
    """
    obj = _instance(search, "register_search")
    _add({**searches()}, obj, "register_search")
    _extra[obj.name] = obj
    _clear_caches()
    return obj


def reset_searches() -> None:
    """Forget searches added with :func:`register_search` and reload the entry points."""
    global _loaded
    _loaded = None
    _extra.clear()
    _clear_caches()


def _clear_caches() -> None:
    from skysieve.config._params import params_model

    params_model.cache_clear()
