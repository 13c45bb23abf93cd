"""Typed configuration: one frozen pydantic model per ``params.yaml`` section, and :func:`load_params`.

The engine's section models live here (training, tuning, evaluation, the sky
and matched-filter libraries); the root model ``Params`` is composed from the
searches' declared sections (:meth:`skysieve.tasks.Search.sections`).
"""

from skysieve.config._base import Section
from skysieve.config._data import PositiveCriteria, ValidateParams
from skysieve.config._defaults import over_defaults
from skysieve.config._evaluate import EnsembleParams, EvaluateParams, increasing_edges
from skysieve.config._mf import MfParams
from skysieve.config._params import load_params, params_model
from skysieve.config._sim import (
    BandParams,
    ClusterSourcesParams,
    CmbSpectrumParams,
    ComponentsParams,
    CosmologyParams,
    DustParams,
    GnfwParams,
    HaloParams,
    KszParams,
    PatchParams,
    PatchesParams,
    SimulateSzParams,
    SourcePopulationParams,
    SurveyParams,
    TszParams,
)
from skysieve.config._train import (
    AugmentParams,
    CentreNetParams,
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
    "ClusterSourcesParams",
    "CentreNetParams",
    "CmbSpectrumParams",
    "ComponentsParams",
    "CosmologyParams",
    "DustParams",
    "GnfwParams",
    "EnsembleParams",
    "EvaluateParams",
    "HaloParams",
    "ImbalanceParams",
    "KszParams",
    "MfParams",
    "NetParams",
    "OptimizerParams",
    "Params",
    "Section",
    "PatchParams",
    "PatchesParams",
    "PositiveCriteria",
    "ResNetSmallParams",
    "ScVggParams",
    "ScheduleParams",
    "SearchDimension",
    "SimulateSzParams",
    "SourcePopulationParams",
    "SurveyParams",
    "TrainParams",
    "TszParams",
    "TuneParams",
    "ValidateParams",
    "VggParams",
    "increasing_edges",
    "load_params",
    "over_defaults",
    "params_model",
]


def __getattr__(name: str):
    if name == "Params":  # built from the search registry on first use
        return params_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
