"""Reading registered versions back: one version by number or alias, and what an ensemble version stores.

A version is found by number or by alias (``candidate``, set when it is
registered by :mod:`skysieve.registry._registry`; ``champion``, set only by
:mod:`skysieve.registry._promote`); an unknown model, version or alias is a
:class:`~skysieve.errors.RegistryError` that lists what exists.
"""

import tempfile
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from skysieve._urls import safe_url
from skysieve.ensemble import Ensembles, ReferenceDistribution
from skysieve.errors import RegistryError
from skysieve.registry._pyfunc import EnsembleModel

__all__ = [
    "CANDIDATE",
    "CHAMPION",
    "get_model_version",
    "load_ensembles",
    "load_reference_distributions",
]

CANDIDATE = "candidate"
CHAMPION = "champion"


def _client() -> MlflowClient:
    return MlflowClient()


def _registered_model(client: MlflowClient, name: str) -> Any:
    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"registry at {safe_url(mlflow.get_registry_uri())}: cannot read model '{name}' "
                                f"({exc})") from exc
        known = sorted(m.name for m in client.search_registered_models(max_results=100))
        raise RegistryError(
            f"no registered model named '{name}' in {safe_url(mlflow.get_registry_uri())} "
            f"(registered: {known or 'none'}); run `skysieve register` first or check MLFLOW_TRACKING_URI"
        ) from None


def _versions(client: MlflowClient, name: str) -> list[str]:
    found = client.search_model_versions(f"name = '{name}'")
    return sorted((str(v.version) for v in found), key=int)


def get_model_version(name: str, *, version: str | int | None = None, alias: str | None = None) -> ModelVersion:
    """One version of a registered model, by number or by alias.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str or int, keyword-only, optional
    alias : str, keyword-only, optional
        Exactly one of ``version`` and ``alias``.

    Raises
    ------
    RegistryError
        Unknown model, version or alias; the message lists what exists.
    """
    if (version is None) == (alias is None):
        raise RegistryError(f"get_model_version('{name}'): pass exactly one of version= or alias=")
    client = _client()
    model = _registered_model(client, name)
    if alias is not None:
        if alias not in model.aliases:
            have = ", ".join(f"{a}→v{v}" for a, v in sorted(model.aliases.items())) or "none"
            raise RegistryError(
                f"model '{name}' has no alias '{alias}' (aliases: {have}); register a version (sets 'candidate') "
                "or promote one (sets 'champion')"
            )
        return client.get_model_version(name, str(model.aliases[alias]))
    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(
            f"model '{name}' has no version {version} (versions: {', '.join(_versions(client, name)) or 'none'})"
        ) from None




def load_ensembles(model_uri: str) -> Ensembles:
    """Fitted :class:`Ensembles` from a registered ensemble model (``models:/NAME@champion``).

    Raises
    ------
    RegistryError
        If the URI does not resolve or is not an ensemble model.
    """
    model = _load_pyfunc(model_uri)
    inner = model.unwrap_python_model()
    if not isinstance(inner, EnsembleModel):
        raise RegistryError(f"{model_uri} is a {type(inner).__name__}, not a skysieve ensemble model")
    return inner.ensembles


def _load_pyfunc(model_uri: str) -> Any:
    if model_uri.startswith("models:/"):
        ref = model_uri.removeprefix("models:/")
        if "@" in ref:
            name, alias = ref.split("@", 1)
            get_model_version(name, alias=alias)
        elif "/" in ref:
            name, version = ref.split("/", 1)
            if version.isdigit():
                get_model_version(name, version=version)
    from skysieve.registry._environment import load_pyfunc

    try:
        return load_pyfunc(model_uri)
    except MlflowException as exc:
        raise RegistryError(f"cannot load model {model_uri}: {exc}") from exc


def load_reference_distributions(
    name: str, *, version: str | int | None = None, alias: str | None = None
) -> dict[str, ReferenceDistribution]:
    """The reference score distributions stored with a version (its ``reference_scores`` artifact).

    Returns
    -------
    dict of str to ReferenceDistribution
        Keyed ``cnn_prob`` and ``mf_snr``.

    Raises
    ------
    RegistryError
        Unknown model/version/alias, or a version registered without them.
    """
    mv = get_model_version(name, version=version, alias=alias)
    uri = mv.tags.get("reference_scores")
    if not uri:
        raise RegistryError(
            f"model '{name}' v{mv.version} has no 'reference_scores' tag; register it with register_ensemble"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        except (MlflowException, OSError) as exc:
            raise RegistryError(f"model '{name}' v{mv.version}: cannot download {uri} ({exc})") from exc
        with np.load(local) as npz:
            return {k: ReferenceDistribution(npz[k], name=k) for k in npz.files}
