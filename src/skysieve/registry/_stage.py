"""The ``register_sz`` stage as a library call: register the CNN and the MF+CNN ensemble as candidates."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow

from skysieve.ensemble import Ensembles
from skysieve.errors import DataError

__all__ = ["RegisteredModels", "register_pipeline"]


class RegisteredModels(dict):
    """``{"cnn": {"name", "version", "uri"}, "ensemble": {...}}`` for the JSON record the stage writes."""


def register_pipeline(
    *,
    models_dir: str | Path,
    ensemble_state: Mapping[str, Any],
    provenance: Mapping[str, str],
    params: Any,
    cnn_name: str,
    ensemble_name: str,
    primary_method: str,
    extra_tags: Mapping[str, str] | None = None,
) -> RegisteredModels:
    """Log and register the trained CNN and the ensemble built on it; both get alias ``candidate``.

    Parameters
    ----------
    models_dir : path
        The ``skysieve train`` output (fold ``.keras`` files + Platt calibration).
    ensemble_state : mapping
        The ``ensemble`` stage's JSON: ``thresholds``, ``references`` (validation
        score distributions) and ``test_metrics`` per method.
    provenance : mapping
        :func:`skysieve._tracking.provenance` of the data the models were evaluated on.
    params : Params
        The whole resolved params, recorded with each version.
    """
    from skysieve.registry._cnn import log_cnn_model
    from skysieve.registry._registry import register_ensemble, register_model_version

    for key in ("thresholds", "references", "test_metrics"):
        if key not in ensemble_state:
            raise DataError(f"ensemble state lacks '{key}'; rerun `skysieve ensemble sz`")
    import numpy as np

    ensembles = Ensembles.from_state(ensemble_state["thresholds"],
                                     {k: np.asarray(v, float) for k, v in ensemble_state["references"].items()})
    test_metrics = ensemble_state["test_metrics"]
    with mlflow.start_run(run_name="register-cnn"):
        cnn_uri = log_cnn_model(models_dir)
    cnn_version = register_model_version(
        cnn_uri, cnn_name, test_metrics={"cnn": test_metrics["cnn"]},
        thresholds={"cnn": ensemble_state["thresholds"]["cnn"]}, provenance=provenance, primary_method="cnn",
        params=params, tags=extra_tags)
    ens_version = register_ensemble(
        ensembles, ensemble_name, test_metrics=test_metrics, provenance=provenance, primary_method=primary_method,
        params=params, cnn_model_uri=f"models:/{cnn_name}/{cnn_version.version}", tags=extra_tags)
    return RegisteredModels(
        cnn={"name": cnn_name, "version": str(cnn_version.version), "uri": f"models:/{cnn_name}@candidate"},
        ensemble={"name": ensemble_name, "version": str(ens_version.version),
                  "uri": f"models:/{ensemble_name}@candidate"},
    )
