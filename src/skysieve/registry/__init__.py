"""The MLflow model registry edge: register versions, promote with a guard, roll back.

Aliases, never stages: the pipeline sets ``candidate``; only :func:`promote`
sets ``champion``, refusing a candidate that is worse beyond the noise on the
same test data (paired bootstrap of the F1 difference, or the 95 % intervals:
:func:`compare_versions`) unless forced with a recorded reason.  The ensemble is registered as a pyfunc
model (:class:`EnsembleModel`) that carries its thresholds and reference
score distributions; the CNN it builds on is a pyfunc model too
(:class:`CnnModel`, logged with :func:`log_cnn_model`).
"""

from skysieve.registry._cnn import CnnModel, cnn_signature, log_cnn_model, read_cnn_manifest
from skysieve.registry._promote import PromotionResult, champion_history, champion_lock, promote, rollback
from skysieve.registry._pyfunc import EnsembleModel, ensemble_signature
from skysieve.registry._registry import (
    TASK_TAG,
    data_hash_of,
    read_version_documents,
    register_ensemble,
    register_model_version,
)
from skysieve.registry._stage import RegisteredModels, register_cnn, register_pipeline
from skysieve.registry._uncertainty import PREDICTIONS_DOCUMENT, Comparison, compare_versions, predictions_document
from skysieve.registry._transfer import LINEAGE_TAGS, load_transfer_source
from skysieve.registry._versions import (
    CANDIDATE,
    CHAMPION,
    get_model_version,
    load_ensembles,
    load_reference_distributions,
)

__all__ = [
    "RegisteredModels",
    "register_cnn",
    "register_pipeline",
    "CANDIDATE",
    "CHAMPION",
    "LINEAGE_TAGS",
    "TASK_TAG",
    "CnnModel",
    "Comparison",
    "PREDICTIONS_DOCUMENT",
    "EnsembleModel",
    "PromotionResult",
    "champion_history",
    "champion_lock",
    "cnn_signature",
    "compare_versions",
    "data_hash_of",
    "ensemble_signature",
    "get_model_version",
    "load_ensembles",
    "load_reference_distributions",
    "load_transfer_source",
    "log_cnn_model",
    "predictions_document",
    "promote",
    "read_cnn_manifest",
    "read_version_documents",
    "register_ensemble",
    "register_model_version",
    "rollback",
]
