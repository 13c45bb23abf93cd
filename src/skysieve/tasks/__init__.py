"""Searches as plug-ins: the contract every search implements, and the registry that finds them.

The engine calls searches only through :class:`Search`; each search lives in
one folder ``tasks/<name>/`` (or a separate package) and is found through the
``skysieve.tasks`` entry-point group.  See ``docs/architecture.md``.
"""

from skysieve.tasks._contract import TASK_TAG, Command, Search, SectionSpec, Stage
from skysieve.tasks._registry import (
    ENTRY_POINT_GROUP,
    TASKS_ENV,
    get_search,
    register_search,
    reset_searches,
    searches,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "TASK_TAG",
    "TASKS_ENV",
    "Command",
    "Search",
    "SectionSpec",
    "Stage",
    "get_search",
    "register_search",
    "reset_searches",
    "searches",
]
