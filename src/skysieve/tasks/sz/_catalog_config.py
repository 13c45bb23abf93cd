"""What a registered model must carry so the catalog can rebuild its matched filter and tiles on new maps.

At registration (``register_sz``) the pipeline stores
:func:`catalog_config_from_params` with both versions as the document
``catalog_config`` (the artifact ``skysieve/catalog_config.json`` of the
logged model, :func:`catalog_documents`); :func:`read_catalog_config` reads it back.  It holds
the instrument (bands with beams and white noise), the ``mf_sz`` section, the
cutout geometry the CNN was trained on and the positive cut of its labels.
"""

import warnings
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skysieve.catalog import read_stored_config
from skysieve.config import BandParams, MfParams, PositiveCriteria
from skysieve.errors import ConfigDeprecationWarning

__all__ = ["CATALOG_CONFIG_FORMAT", "CATALOG_CONFIG_TAG", "CatalogConfig", "catalog_config_from_params",
           "catalog_documents", "read_catalog_config"]

#: Name of the model-version document holding the catalog config (and of the JSON tag that held it before).
CATALOG_CONFIG_TAG = "catalog_config"
#: Format string written into the config.
CATALOG_CONFIG_FORMAT = "skysieve.catalog_config/1"


class CatalogConfig(BaseModel):
    """The state of the pipeline that catalog production needs, as stored with a model version.

    Attributes
    ----------
    bands : tuple of BandParams
        The instrument (``simulate_sz.bands``): frequencies, beams (arcmin),
        white noise (µK·arcmin).
    mf : MfParams
        The ``mf_sz`` section the model's MF scores were made with.
    size_arcmin, central_arcmin : float
        Cutout side and central-region side (``cutouts_sz``), arcmin.
    pixel_arcmin : float
        Pixel side of the maps the model was trained on, arcmin.
    positive : PositiveCriteria
        The positive cut of the training labels (truth matching uses it).
    tcmb_k : float
        CMB temperature, K.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = CATALOG_CONFIG_FORMAT
    bands: tuple[BandParams, ...] = Field(min_length=1)
    mf: MfParams
    size_arcmin: float = Field(gt=0)
    central_arcmin: float = Field(gt=0)
    pixel_arcmin: float = Field(gt=0)
    positive: PositiveCriteria
    tcmb_k: float = Field(2.7255, gt=0)

    @property
    def size_px(self) -> int:
        """Cutout side in pixels."""
        return round(self.size_arcmin / self.pixel_arcmin)

    @property
    def central_px(self) -> int:
        """Central-region side in pixels."""
        return round(self.central_arcmin / self.pixel_arcmin)

    @property
    def beams(self) -> dict[str, float]:
        """Beam FWHM per band name, arcmin."""
        from skysieve.data.maps import band_name

        return {band_name(b.freq_ghz): b.beam_fwhm_arcmin for b in self.bands}


def catalog_config_from_params(params: Any) -> dict[str, Any]:
    """The catalog config of a pipeline, JSON-ready, from its params.

    Parameters
    ----------
    params : Params
        The whole ``params.yaml`` (sections ``simulate_sz``, ``mf_sz``,
        ``cutouts_sz``, ``cosmology``).

    Returns
    -------
    dict
        ``format``, ``bands``, ``mf``, ``size_arcmin``, ``central_arcmin``,
        ``pixel_arcmin``, ``positive``, ``tcmb_k``; store it with
        :func:`catalog_documents`.
    """
    cfg = CatalogConfig(
        bands=params.simulate_sz.bands,
        mf=params.mf_sz,
        size_arcmin=params.cutouts_sz.size_arcmin,
        central_arcmin=params.cutouts_sz.central_arcmin,
        pixel_arcmin=params.simulate_sz.patch.pixel_arcmin,
        positive=params.cutouts_sz.positive,
        tcmb_k=params.cosmology.Tcmb0_k,
    )
    return cfg.model_dump(mode="json")


def catalog_documents(params: Any) -> dict[str, dict[str, Any]]:
    """The documents that carry the catalog config: ``{"catalog_config": {...}}``.

    Pass them to :func:`skysieve.registry.register_ensemble` or
    :func:`skysieve.registry.register_pipeline` (``documents=``).
    """
    return {CATALOG_CONFIG_TAG: catalog_config_from_params(params)}


def read_catalog_config(documents: Mapping[str, Any], *, where: str,
                        tags: Mapping[str, str] | None = None) -> CatalogConfig:
    """The catalog config of a model version, from its ``catalog_config`` document or its whole ``params``.

    Parameters
    ----------
    documents : mapping
        The version's documents (:attr:`skysieve.catalog.ModelRef.documents`).
    where : str, keyword-only
        The version, for messages (``model 'x' v3``).
    tags : mapping, keyword-only, optional
        The version's tags: versions registered before documents existed hold
        the config (or the params) as JSON tags.

    Values stored under an old name (``mf_sz.sources: detect``, now ``find``)
    are read under the new one, silently: a registered version cannot be edited.

    Raises
    ------
    RegistryError
        If neither holds a valid config; the message says how to register one.
    """
    from skysieve.config import Params

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigDeprecationWarning)
        return read_stored_config(
            documents, CATALOG_CONFIG_TAG, CatalogConfig, tags=tags, expected_format=CATALOG_CONFIG_FORMAT,
            what="catalog config", where=where,
            fix=("register the ensemble with `skysieve register sz` (or register_ensemble(..., documents=skysieve."
                 "tasks.sz._catalog_config.catalog_documents(params))) so the catalog can rebuild its matched filter "
                 "and tiles"),
            sections=("simulate_sz", "mf_sz", "cutouts_sz"),
            from_params=lambda payload: CatalogConfig.model_validate(
                catalog_config_from_params(Params.model_validate(payload))))
