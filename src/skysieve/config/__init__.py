"""Typed configuration: one frozen pydantic model per ``params.yaml`` section."""

from skysieve.config._data import CutoutsSzParams, PositiveCriteria, SplitParams, ValidateParams
from skysieve.config._mf import MfParams
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
from skysieve.config._train import (
    AugmentParams,
    ImbalanceParams,
    NetParams,
    OptimizerParams,
    ResNetSmallParams,
    ScheduleParams,
    ScVggParams,
    SearchDimension,
    TrainParams,
    TuneParams,
    VggParams,
)

__all__ = [
    "AugmentParams",
    "BandParams",
    "CmbSpectrumParams",
    "ComponentsParams",
    "CosmologyParams",
    "CutoutsSzParams",
    "DustParams",
    "HaloParams",
    "ImbalanceParams",
    "KszParams",
    "MfParams",
    "NetParams",
    "OptimizerParams",
    "Params",
    "PatchParams",
    "PositiveCriteria",
    "ResNetSmallParams",
    "ScVggParams",
    "ScheduleParams",
    "SearchDimension",
    "SimulateSzParams",
    "SourcePopulationParams",
    "SplitParams",
    "TrainParams",
    "TszParams",
    "TuneParams",
    "ValidateParams",
    "VggParams",
    "load_params",
]
