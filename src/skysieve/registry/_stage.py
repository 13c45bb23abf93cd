"""The ``register_<search>`` stages as library calls: register the CNN (and an MF+CNN ensemble) as candidates.

Every version is logged in its search's MLflow experiment and tagged with
the search's name (``skysieve.task``).
"""

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow

from skysieve.ensemble import Ensembles
from skysieve.errors import DataError

__all__ = ["RegisteredModels", "register_cnn", "register_pipeline"]


class RegisteredModels(dict):
    """``{"cnn": {"name", "version", "uri"}, "ensemble": {...}}`` for the JSON record the stage writes."""


def _with_predictions(documents: Mapping[str, Any] | None, state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The documents plus the state's per-object test decisions (``test_predictions``), if it has them."""
    from skysieve.registry._uncertainty import PREDICTIONS_DOCUMENT

    if PREDICTIONS_DOCUMENT not in state:
        return dict(documents) if documents else documents
    return {**(documents or {}), PREDICTIONS_DOCUMENT: state[PREDICTIONS_DOCUMENT]}


def register_pipeline(
    *,
    task: str,
    models_dir: str | Path,
    ensemble_state: Mapping[str, Any],
    provenance: Mapping[str, str],
    params: Any,
    cnn_name: str,
    ensemble_name: str,
    primary_method: str,
    extra_tags: Mapping[str, str] | None = None,
    documents: Mapping[str, Any] | None = None,
) -> RegisteredModels:
    """Log and register the trained CNN and the ensemble built on it; both get alias ``candidate``.

    Parameters
    ----------
    task : str
        The search: both versions carry it as their ``skysieve.task`` tag and
        are logged in its MLflow experiment.
    models_dir : path
        The ``skysieve train`` output (fold ``.keras`` files + Platt calibration).
    ensemble_state : mapping
        The ``ensemble`` stage's JSON: ``thresholds``, ``references`` (validation
        score distributions) and ``test_metrics`` per method; with
        ``test_predictions`` (:func:`~skysieve.registry.predictions_document`)
        both versions store their per-object test decisions, so the promotion
        gate compares them paired.
    provenance : mapping
        :func:`skysieve._tracking.provenance` of the data the models were evaluated on.
    params : Params
        The whole resolved params, recorded with each version (document ``params``).
    extra_tags : mapping, optional
        More version tags (short scalars), on both versions.
    documents : mapping of str to JSON-ready data, optional
        More documents stored with both versions (``{"catalog_config": {...}}``,
        see :func:`~skysieve.registry.register_model_version`).
    """
    from skysieve._tracking import experiment_id, log_provenance
    from skysieve.registry._cnn import log_cnn_model
    from skysieve.registry._registry import register_ensemble, register_model_version

    for key in ("thresholds", "references", "test_metrics"):
        if key not in ensemble_state:
            raise DataError(f"ensemble state lacks '{key}'; rerun `skysieve ensemble {task}`")
    import numpy as np

    ensembles = Ensembles.from_state(ensemble_state["thresholds"],
                                     {k: np.asarray(v, float) for k, v in ensemble_state["references"].items()})
    test_metrics = ensemble_state["test_metrics"]
    documents = _with_predictions(documents, ensemble_state)
    with mlflow.start_run(run_name="register-cnn", experiment_id=experiment_id(task)) as run:
        cnn_uri = log_cnn_model(models_dir)
        log_provenance(run.info.run_id, provenance=provenance, data_context="evaluation")
    cnn_version = register_model_version(
        cnn_uri, cnn_name, test_metrics={"cnn": test_metrics["cnn"]},
        thresholds={"cnn": ensemble_state["thresholds"]["cnn"]}, provenance=provenance, primary_method="cnn",
        task=task, params=params, tags=extra_tags, documents=documents)
    ens_version = register_ensemble(
        ensembles, ensemble_name, test_metrics=test_metrics, provenance=provenance, primary_method=primary_method,
        task=task, params=params, cnn_model_uri=f"models:/{cnn_name}/{cnn_version.version}", tags=extra_tags,
        documents=documents)
    return RegisteredModels(
        cnn={"name": cnn_name, "version": str(cnn_version.version), "uri": f"models:/{cnn_name}@candidate"},
        ensemble={"name": ensemble_name, "version": str(ens_version.version),
                  "uri": f"models:/{ensemble_name}@candidate"},
    )


def register_cnn(
    *,
    task: str,
    models_dir: str | Path,
    name: str,
    state: Mapping[str, Any],
    provenance: Mapping[str, str],
    params: Any,
    tags: Mapping[str, str] | None = None,
    documents: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Log a trained CNN with its reference scores and register it as ``candidate`` (tasks with no ensemble).

    One MLflow run ``register-<name>`` holds the pyfunc model
    (:func:`~skysieve.registry.log_cnn_model`), the reference score
    distributions (``references/references.npz``, read back by
    :func:`~skysieve.registry.load_reference_distributions`) and the
    provenance (the data as dataset inputs); the version carries the test
    metrics (tags and MLflow metrics), every threshold, the data hash, the git
    commit, a Markdown description, and the params as a stored document
    (:func:`~skysieve.registry.register_model_version`, primary method ``cnn``).

    Parameters
    ----------
    task : str
        The search: the version's ``skysieve.task`` tag, and the MLflow
        experiment of the run.
    models_dir : path
        The ``skysieve train`` output.
    name : str
        Registered model name.
    state : mapping
        The evaluate stage's JSON: ``thresholds`` (``cnn`` the operating one),
        ``references`` (``{"cnn_prob": validation scores}``), ``test_metrics``
        (``{"cnn": {...}}`` with an ``f1``), optionally ``operating_point`` and
        ``test_predictions`` (stored as that document: the gate's paired comparison).
    provenance : mapping
        :func:`skysieve._tracking.provenance` of the data the model was evaluated on.
    params : pydantic section or mapping
        Recorded with the version and on the run.
    tags : mapping, optional
        More version tags (short scalars).
    documents : mapping of str to JSON-ready data, optional
        More documents stored with the version (``{"lens_catalog_config": {...}}``).

    Returns
    -------
    dict
        ``name``, ``version``, ``uri`` (``models:/NAME@candidate``), ``run_id``.

    Raises
    ------
    DataError
        The state lacks a key, or has no ``cnn`` threshold or metrics.
    """
    import numpy as np

    from skysieve._tracking import experiment_id, log_provenance
    from skysieve.registry._cnn import log_cnn_model
    from skysieve.registry._registry import register_model_version

    for key in ("thresholds", "references", "test_metrics"):
        if key not in state:
            raise DataError(f"evaluation state lacks '{key}'; rerun the evaluate stage (`skysieve evaluate {task}`)")
    if "cnn" not in state["thresholds"] or "cnn" not in state["test_metrics"]:
        raise DataError(f"evaluation state has no 'cnn' threshold or test metrics; rerun `skysieve evaluate {task}`")
    dumped = params.model_dump(mode="json") if hasattr(params, "model_dump") else dict(params)
    documents = _with_predictions(documents, state)
    with mlflow.start_run(run_name=f"register-{name}", experiment_id=experiment_id(task)) as run:
        model_uri = log_cnn_model(models_dir)
        with tempfile.TemporaryDirectory() as tmp:
            refs = Path(tmp) / "references.npz"
            np.savez(refs, **{k: np.asarray(v, dtype=np.float64) for k, v in state["references"].items()})
            mlflow.log_artifact(str(refs), artifact_path="references")
        log_provenance(run.info.run_id, provenance=provenance, params=dumped, data_context="evaluation")
        references_uri = f"runs:/{run.info.run_id}/references/references.npz"  # no local path in the registry
    extra = {"reference_scores": references_uri, "run_id": run.info.run_id, **(tags or {})}
    if "operating_point" in state:
        extra["operating_point"] = str(state["operating_point"])
    version = register_model_version(model_uri, name, test_metrics=state["test_metrics"],
                                     thresholds=state["thresholds"], provenance=provenance, primary_method="cnn",
                                     task=task, params=dumped, tags=extra, documents=documents)
    return {"name": name, "version": str(version.version), "uri": f"models:/{name}@candidate",
            "run_id": run.info.run_id}
