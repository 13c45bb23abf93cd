"""Resolving a registered SZ ensemble into everything catalog production needs.

``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` names a version of a
registered :class:`~skysieve.registry.EnsembleModel` (thresholds and
reference score distributions) that was registered with the CNN it builds on
(``cnn_model_uri``, a :class:`~skysieve.registry.CnnModel`) and with its
catalog config (:mod:`skysieve.tasks.sz._catalog_config`).  Everything is
checked here, before any map is read.
"""

from dataclasses import dataclass, field
from typing import Any

from skysieve.catalog import ModelRef, load_pyfunc, parse_model_uri
from skysieve.errors import RegistryError
from skysieve.tasks.sz._catalog_config import CatalogConfig, read_catalog_config

__all__ = ["CatalogModel", "load_catalog_model"]


@dataclass
class CatalogModel:
    """A registered ensemble version with its CNN and catalog config, loaded.

    Attributes
    ----------
    uri : str
        The URI as given (alias or version).
    name, version : str
        The registered model and the version the URI resolved to.
    alias : str or None
    run_id : str
        The MLflow run that logged the ensemble version.
    ensembles : Ensembles
        Thresholds and stored reference distributions.
    cnn : CnnModel
        The CNN (fold models averaged, then Platt), with ``channels`` and ``input_shape``.
    cnn_uri : str
    config : CatalogConfig
    tags : dict of str to str
        The version's tags (``git_commit``, ``data_hash``…).
    """

    uri: str
    name: str
    version: str
    alias: str | None
    run_id: str
    ensembles: Any
    cnn: Any
    cnn_uri: str
    config: CatalogConfig
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def channels(self) -> tuple[str, ...]:
        """Band names in the CNN's channel order."""
        return tuple(self.cnn.channels)

    @property
    def thresholds(self) -> dict[str, float]:
        """Every threshold of the ensembles (``mf``, ``cnn``, ``and.cnn``, ``and.mf``, ``rank_product``)."""
        return self.ensembles.thresholds()


def load_catalog_model(uri: str) -> CatalogModel:
    """Resolve and load a registered ensemble model for catalog production.

    Parameters
    ----------
    uri : str
        ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (MLflow registry
        set by ``MLFLOW_TRACKING_URI`` or :func:`skysieve._tracking.configure_mlflow`).

    Returns
    -------
    CatalogModel

    Raises
    ------
    RegistryError
        An unknown model, version or alias (listing what exists); a version
        that is not a skysieve ensemble, has no CNN or no catalog config; a
        CNN whose cutout size or channels disagree with the catalog config.
    """
    from skysieve.registry import CnnModel, EnsembleModel, get_model_version

    name, version, alias = parse_model_uri(uri)
    mv = get_model_version(name, version=version, alias=alias)
    where = f"model '{name}' v{mv.version}"
    tags = dict(mv.tags)
    ref = ModelRef(uri, name, str(mv.version), alias, "", tags)
    task = ref.task
    if task != "sz":
        raise RegistryError(f"{where} serves the '{task}' search, not an SZ ensemble; make its catalog with "
                            "skysieve catalog --model, which takes that search's inputs")
    config = read_catalog_config(ref.documents, where=where, tags=tags)
    inner = load_pyfunc(f"models:/{name}/{mv.version}", "ensemble model")
    if not isinstance(inner, EnsembleModel):
        raise RegistryError(f"{where} is a {type(inner).__name__}, not a skysieve ensemble model; "
                            "the catalog needs the registered ensemble (register_ensemble)")
    cnn_uri = inner.cnn_model_uri or tags.get("cnn_model_uri")
    if not cnn_uri:
        raise RegistryError(f"{where} was registered without its CNN; register it with "
                            "register_ensemble(..., cnn_model_uri='models:/NAME/VERSION') of a log_cnn_model model")
    cnn = load_pyfunc(cnn_uri, "CNN model")
    if not isinstance(cnn, CnnModel):
        raise RegistryError(f"{where}: its CNN {cnn_uri} is a {type(cnn).__name__}, not a skysieve CNN model "
                            "(log it with skysieve.registry.log_cnn_model)")
    size = (config.size_px, config.size_px)
    if tuple(cnn.input_shape[:2]) != size:
        raise RegistryError(f"{where}: its CNN takes {tuple(cnn.input_shape[:2])} px cutouts but the catalog config "
                            f"says {config.size_arcmin}′ at {config.pixel_arcmin}′/px = {size}; re-register it "
                            "with the params it was trained with")
    from skysieve.data.maps import band_name

    bands = sorted(band_name(b.freq_ghz) for b in config.bands)
    if sorted(cnn.channels) != bands:
        raise RegistryError(f"{where}: its CNN's channels {list(cnn.channels)} differ from the instrument bands "
                            f"{bands} of its catalog config; re-register it with the params it was trained with")
    return CatalogModel(uri=str(uri), name=name, version=str(mv.version), alias=alias, run_id=str(mv.run_id or ""),
                        ensembles=inner.ensembles, cnn=cnn, cnn_uri=str(cnn_uri), config=config, tags=tags)
