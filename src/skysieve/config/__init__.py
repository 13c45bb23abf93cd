"""Typed configuration: one frozen pydantic model per ``params.yaml`` section."""

from skysieve.config._data import CutoutsSzParams, PositiveCriteria, SplitParams, ValidateParams
from skysieve.config._params import Params, load_params
from skysieve.config._sim import (
    BandParams,
    CmbSpectrumParams,
    ComponentsParams,
    CosmologyParams,
    DustParams,
    HaloParams,
    KszParams,
    PatchParams,
    SimulateSzParams,
    SourcePopulationParams,
    TszParams,
)

__all__ = [
    "BandParams",
    "CmbSpectrumParams",
    "ComponentsParams",
    "CosmologyParams",
    "CutoutsSzParams",
    "DustParams",
    "HaloParams",
    "KszParams",
    "Params",
    "PatchParams",
    "PositiveCriteria",
    "SimulateSzParams",
    "SourcePopulationParams",
    "SplitParams",
    "TszParams",
    "ValidateParams",
    "load_params",
]
