"""Resolving a registered ensemble model into everything catalog production needs.

``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` names a version of a
registered :class:`~skysieve.registry.EnsembleModel` (thresholds and
reference score distributions) that was registered with the CNN it builds on
(``cnn_model_uri``, a :class:`~skysieve.registry.CnnModel`) and with its
catalog config (:mod:`skysieve.tasks.sz._catalog_config`).  Everything is checked here,
before any map is read.
"""

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from skysieve._urls import safe_url
from skysieve.errors import RegistryError
from skysieve.tasks import TASK_TAG

__all__ = ["TASK_TAG", "ModelRef", "load_pyfunc", "parse_model_uri", "resolve_model"]


_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """Split ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` into (name, version, alias).

    Raises
    ------
    RegistryError
        For any other form (the catalog header must name a registered version).
    """
    found = _URI.match(str(uri).strip())
    if found is None:
        raise RegistryError(f"model URI {uri!r}: expected models:/NAME@ALIAS (e.g. "
                            "models:/NAME@champion) or models:/NAME/VERSION of a registered model")
    return found["name"], found["version"], found["alias"]


@dataclass(frozen=True)
class ModelRef:
    """A model URI resolved to one registered version (nothing loaded).

    Attributes
    ----------
    uri : str
        As given.
    name, version : str
    alias : str or None
    run_id : str
    tags : dict of str to str
    documents : dict
        The JSON documents stored with the version (the params, the catalog
        config …; :func:`skysieve.registry.read_version_documents`), read on
        first use.
    """

    uri: str
    name: str
    version: str
    alias: str | None
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)

    @cached_property
    def documents(self) -> dict[str, Any]:
        """The version's stored documents, by name (read from the registry once)."""
        from skysieve.registry import read_version_documents

        return read_version_documents(self.name, self.version)

    @property
    def where(self) -> str:
        """``model 'NAME' vN``, for messages."""
        return f"model '{self.name}' v{self.version}"

    @property
    def task(self) -> str:
        """The name of the search this version serves: its ``skysieve.task`` tag.

        A version registered before the registry set that tag is claimed by the
        one search that recognizes its tags (:meth:`skysieve.tasks.Search.recognizes`).

        Raises
        ------
        RegistryError
            No tag and no search (or more than one) recognizes the version.
        """
        from skysieve.tasks import searches

        task = self.tags.get(TASK_TAG)
        if task:
            return task
        claims = [name for name, search in searches().items() if search.recognizes(self.tags)]
        if len(claims) == 1:
            return claims[0]
        who = "no registered search recognizes it" if not claims else f"searches {', '.join(claims)} all claim it"
        raise RegistryError(f"{self.where} has no '{TASK_TAG}' tag and {who}; "
                            f"set the tag to the search it was trained for (MlflowClient().set_model_version_tag("
                            f"'{self.name}', '{self.version}', '{TASK_TAG}', NAME)) or re-register it")

    @property
    def search(self) -> Any:
        """The :class:`skysieve.tasks.Search` this version serves.

        Raises
        ------
        RegistryError
            The version's search is not registered here.
        """
        from skysieve.tasks import searches

        found = searches()
        if self.task not in found:
            raise RegistryError(f"{self.where} serves search '{self.task}', which is not installed here "
                                f"(registered searches: {', '.join(found) or 'none'})")
        return found[self.task]


def resolve_model(uri: str) -> ModelRef:
    """Resolve ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` to a registered version, loading nothing.

    Raises
    ------
    RegistryError
        A malformed URI; an unknown model, version or alias (listing what exists).
    """
    from skysieve.registry import get_model_version

    name, version, alias = parse_model_uri(uri)
    mv = get_model_version(name, version=version, alias=alias)
    return ModelRef(uri=str(uri), name=name, version=str(mv.version), alias=alias, run_id=str(mv.run_id or ""),
                    tags=dict(mv.tags))


def load_pyfunc(uri: str, what: str) -> Any:
    """Load the Python model inside the registered pyfunc ``uri`` (``what`` names it in errors).

    Raises
    ------
    RegistryError
        It cannot be loaded (the message names the registry).
    """
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except (MlflowException, OSError) as exc:
        raise RegistryError(f"cannot load the {what} {uri} from {safe_url(mlflow.get_registry_uri())}: {exc}") from exc
