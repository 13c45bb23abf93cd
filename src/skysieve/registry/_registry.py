"""Registering model versions in the MLflow registry, and reading them back.

Aliases only, never the deprecated stages: registering sets ``candidate``;
promotion to ``champion`` is :mod:`skysieve.registry._promote`; reading a
version back (by number or alias), :mod:`skysieve.registry._versions`.
Tags on each version are short scalars a person can read in the UI (strings,
as MLflow stores them):

=============================  =================================================
``skysieve.task``              the search the version serves (``skysieve catalog`` dispatches on it)
``primary_method``             the method whose test F1 decides promotion
``test_f1``                    that F1 (the promotion gate reads it)
``test.<m>.<metric>``          purity, completeness and F1 of each method on test (4 digits)
``threshold.<key>``            every threshold (``mf``, ``cnn``, ``and.cnn``, ``and.mf``, ``rank_product``)
``data_hash``                  DVC hash of the data the model was trained and tested on (the gate compares it)
``git_commit``                 code version
``run_id``                     the registering run (its tags hold the whole provenance)
``reference_scores``           where the reference score distributions are (``runs:/`` URI, no local path)
=============================  =================================================

What is long is stored elsewhere (:mod:`skysieve.registry._describe`): the
full params (``params``) and a search's configs (``documents=``, e.g. the
catalog config) as JSON artifacts ``skysieve/<name>.json`` of the logged
model (:func:`read_version_documents`); every test metric, with its bootstrap
interval where the evaluation gives one, as MLflow metrics
``test.<method>.<metric>`` of the registering run and the logged model; and a
Markdown description of the version (metrics table, data, code, how to promote).
"""

import hashlib
import math
import tempfile
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from skysieve._tracking import log_provenance
from skysieve._urls import safe_url
from skysieve.ensemble import Ensembles
from skysieve.errors import RegistryError
from skysieve.registry._describe import (
    _number,
    describe_version,
    log_test_metrics,
    log_version_documents,
    model_id_of,
    read_version_documents,
)
from skysieve.registry._environment import model_environment
from skysieve.registry._pyfunc import ensemble_signature, write_state
from skysieve.registry._versions import CANDIDATE, CHAMPION, _client
from skysieve.tasks import TASK_TAG

__all__ = [
    "MAX_TAG_CHARS",
    "TASK_TAG",
    "data_hash_of",
    "read_version_documents",
    "register_ensemble",
    "register_model_version",
]

#: The metrics each method keeps as version tags (the rest are MLflow metrics only).
TAGGED_METRICS = ("purity", "completeness", "f1")
#: Longest version tag value accepted; longer values belong in ``documents=``.
MAX_TAG_CHARS = 250


def _tag_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "nan"
    if value is None:
        return "none"
    return str(value)


def _short(value: Any) -> str:
    """A figure for people: 4 significant digits (the exact values are the version's MLflow metrics)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.4g}"
    return _tag_value(value)


def data_hash_of(provenance: Mapping[str, str]) -> str:
    """One hash for all the data a provenance record names.

    The md5 itself when there is one ``data.<path>.md5`` entry, else the md5
    of the sorted ``path=md5`` lines.

    Raises
    ------
    RegistryError
        If the provenance names no data, or a data hash is empty (missing file).
    """
    entries = {k[len("data."):-len(".md5")]: v for k, v in provenance.items()
               if k.startswith("data.") and k.endswith(".md5")}  # fmt: skip
    if not entries:
        raise RegistryError(
            "provenance names no data (no 'data.<path>.md5' entries); call "
            "skysieve._tracking.provenance([cutout dir, ...]) with the data the model was tested on"
        )
    empty = sorted(k for k, v in entries.items() if not v)
    if empty:
        raise RegistryError(
            f"provenance has no hash for {empty} (missing on disk?); run `dvc repro` or `dvc pull` first"
        )
    if len(entries) == 1:
        return next(iter(entries.values()))
    lines = "\n".join(f"{k}={entries[k]}" for k in sorted(entries))
    return hashlib.md5(lines.encode()).hexdigest()


def _params_dict(params: Any) -> dict[str, Any]:
    """The params as JSON-ready data, passwords in URLs masked (they are stored with the version)."""
    from skysieve._urls import redact

    if params is None:
        return {}
    if hasattr(params, "model_dump"):
        return redact(params.model_dump(mode="json"))
    return redact(dict(params))


def register_model_version(
    model_uri: str,
    name: str,
    *,
    test_metrics: Mapping[str, Mapping[str, Any]],
    thresholds: Mapping[str, float],
    provenance: Mapping[str, str],
    primary_method: str,
    task: str,
    params: Any = None,
    tags: Mapping[str, Any] | None = None,
    documents: Mapping[str, Any] | None = None,
    alias: str = CANDIDATE,
) -> ModelVersion:
    """Register a logged model as a new version, tag and describe it, and point ``alias`` at it.

    Parameters
    ----------
    model_uri : str
        A logged model (``ModelInfo.model_uri``, ``models:/m-…``, ``runs:/…``).
    name : str
        Registered model name (created if new).
    test_metrics : mapping of str to mapping, keyword-only
        ``{method: {metric: value}}`` on the test split
        (``EvaluationResult.test.as_dict()`` per method), bootstrap intervals
        as ``<metric>_lo`` / ``<metric>_hi`` where the evaluation gives them.
        Purity, completeness and F1 become version tags (and the primary
        method's ``f1_lo`` / ``f1_hi`` / ``n_pos`` / ``n_neg`` the tags
        ``test_f1_lo`` … that the promotion gate compares); every number becomes
        an MLflow metric ``test.<method>.<metric>`` of the model's run and of
        the logged model.
    thresholds : mapping of str to float, keyword-only
        Every validation-chosen threshold.
    provenance : mapping of str to str, keyword-only
        From :func:`skysieve._tracking.provenance` over the data the model
        was trained and tested on: its ``git.commit`` becomes the
        ``git_commit`` tag and its ``data.<path>.md5`` entries the
        ``data_hash`` tag (:func:`data_hash_of`) and dataset inputs of the run.
    primary_method : str, keyword-only
        The method of ``test_metrics`` whose F1 decides promotion.
    task : str, keyword-only
        The search the version serves (:class:`skysieve.tasks.Search` name),
        stored as the ``skysieve.task`` tag that ``skysieve catalog`` dispatches on.
    params : pydantic section or mapping, keyword-only, optional
        The params it was trained with, stored as the document ``params``
        (artifact ``skysieve/params.json`` of the logged model).
    tags : mapping, keyword-only, optional
        More version tags: short scalars (at most :data:`MAX_TAG_CHARS` characters).
    documents : mapping of str to JSON-ready data, keyword-only, optional
        More documents stored with the model (``{"catalog_config": {...}}``),
        read back with :func:`read_version_documents`.  A ``test_predictions``
        document (:func:`~skysieve.registry.predictions_document`: per-object
        test decisions) sets the tag ``test_predictions: stored`` and lets
        the promotion gate compare two versions with a paired bootstrap.
    alias : str, keyword-only
        The alias to set; the pipeline uses ``candidate``.

    Returns
    -------
    ModelVersion
        As re-read after tagging (``.tags``, ``.aliases``, ``.description`` filled).

    Raises
    ------
    RegistryError
        If ``primary_method`` has no F1 in ``test_metrics``, the provenance
        names no data, a tag is longer than :data:`MAX_TAG_CHARS`, or
        ``alias`` is ``champion`` (only :func:`promote` sets it).
    """
    from skysieve._tracking import data_inputs, log_data_inputs

    if alias == CHAMPION:
        raise RegistryError(
            "register_model_version cannot set 'champion'; register as candidate, then `skysieve promote`"
        )
    if primary_method not in test_metrics or "f1" not in test_metrics[primary_method]:
        raise RegistryError(
            f"register '{name}': primary_method '{primary_method}' has no test F1 in test_metrics "
            f"(methods: {sorted(test_metrics)}); pass the method whose F1 decides promotion"
        )
    if not task:
        raise RegistryError(f"register '{name}': no task given; pass the name of the search the model serves")
    extra = {str(k): _tag_value(v) for k, v in (tags or {}).items() if k != TASK_TAG}
    long = sorted(k for k, v in extra.items() if len(v) > MAX_TAG_CHARS)
    if long:
        raise RegistryError(f"register '{name}': tags {long} are longer than {MAX_TAG_CHARS} characters; version "
                            "tags stay short for the MLflow UI: pass long values as documents={name: data}")
    client = _client()
    model_id = model_id_of(model_uri)
    run_id = extra.get("run_id")
    if model_id is not None and run_id is None:
        run_id = client.get_logged_model(model_id).source_run_id
    elif run_id is None and model_uri.startswith("runs:/"):
        run_id = model_uri.removeprefix("runs:/").split("/", 1)[0]
    data_hash = data_hash_of(provenance)
    all_tags: dict[str, str] = {
        TASK_TAG: task,
        "primary_method": primary_method,
        "test_f1": _tag_value(float(test_metrics[primary_method]["f1"])),
        "data_hash": data_hash,
        "git_commit": str(provenance.get("git.commit", "unknown")),
        **({"run_id": str(run_id)} if run_id else {}),
    }
    primary = test_metrics[primary_method]
    for key, tag in (("f1_lo", "test_f1_lo"), ("f1_hi", "test_f1_hi"), ("n_pos", "test_n_pos"),
                     ("n_neg", "test_n_neg")):
        if _number(primary.get(key)) is not None:  # the 95 % interval the promotion gate compares
            all_tags[tag] = _tag_value(primary[key])
    if "test_predictions" in (documents or {}):
        all_tags["test_predictions"] = "stored"  # per-object test decisions: the gate compares paired
    for method, metrics in test_metrics.items():
        all_tags.update({f"test.{method}.{k}": _short(metrics[k]) for k in TAGGED_METRICS if k in metrics})
    all_tags.update({f"threshold.{k}": _tag_value(float(v)) for k, v in thresholds.items()})
    all_tags.update(extra)
    docs = {"params": _params_dict(params), **dict(documents or {})}
    try:
        log_version_documents(model_uri, docs, client=client)
        mv = mlflow.register_model(model_uri, name, tags=all_tags)
    except MlflowException as exc:
        raise RegistryError(f"cannot register {model_uri} as '{name}' in {safe_url(mlflow.get_registry_uri())}: "
                            f"{exc}") from exc
    if run_id:
        inputs = data_inputs(provenance)
        log_data_inputs(run_id, provenance, context="evaluation", client=client)
        log_test_metrics(run_id, test_metrics, model_id=model_id, client=client,
                         dataset=(inputs[0]["path"], inputs[0]["md5"][:36]) if len(inputs) == 1 else None)
    description = describe_version(name, mv.version, task=task, primary_method=primary_method,
                                   test_metrics=test_metrics, thresholds=thresholds, provenance=provenance,
                                   data_hash=data_hash, run_id=run_id, references_uri=extra.get("reference_scores"),
                                   documents=tuple(docs))
    client.update_model_version(name, str(mv.version), description=description)
    client.set_registered_model_alias(name, alias, mv.version)
    return client.get_model_version(name, str(mv.version))


def register_ensemble(
    ensembles: Ensembles,
    name: str,
    *,
    test_metrics: Mapping[str, Mapping[str, Any]],
    provenance: Mapping[str, str],
    primary_method: str = "rank_product",
    task: str,
    params: Any = None,
    cnn_model_uri: str | None = None,
    tags: Mapping[str, Any] | None = None,
    documents: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Log the ensembles as a pyfunc model in an MLflow run and register it as ``candidate``.

    The thresholds (``thresholds.json``) and the reference score distributions
    (``references.npz``) are artifacts of the model and of the run; the
    version's ``reference_scores`` tag points at the latter.

    Parameters
    ----------
    ensembles : Ensembles
        Fitted on validation.
    name : str
        Registered model name.
    test_metrics, provenance, primary_method, task, params, tags, documents
        As :func:`register_model_version`; the provenance (with the data as
        dataset inputs) and params are also logged on the run
        (:func:`skysieve._tracking.log_provenance`).
    cnn_model_uri : str, keyword-only, optional
        A pinned CNN model (``models:/NAME/VERSION``) that scores cutouts, for
        :meth:`EnsembleModel.predict_cutouts`.

    Returns
    -------
    ModelVersion
        Logged in the active run, or in a new run named ``register`` of the
        search's experiment (``task``) if none.
    """
    import pandas as pd

    from skysieve._tracking import experiment_id

    with tempfile.TemporaryDirectory() as tmp:
        artifacts = write_state(ensembles, tmp)
        refs = ensembles.references()
        example = pd.DataFrame({k: refs[k][:: max(1, len(refs[k]) // 5)][:5] for k in refs})
        active = mlflow.active_run()
        run_ctx = (mlflow.start_run(run_name="register", experiment_id=experiment_id(task)) if active is None
                   else nullcontext(active))
        code = Path(__file__).with_name("_model_code.py")
        with run_ctx as run, model_environment(code) as env:
            mlflow.log_artifacts(tmp, artifact_path="ensemble")
            info = mlflow.pyfunc.log_model(
                name="ensemble",
                python_model=str(code),
                artifacts=artifacts,
                signature=ensemble_signature(),
                input_example=example,
                model_config={"cnn_model_uri": cnn_model_uri} if cnn_model_uri else None,
                code_paths=env.code_paths,
                pip_requirements=env.pip_requirements,
            )
            references_uri = f"runs:/{run.info.run_id}/ensemble/references.npz"  # no local path in the registry
            log_provenance(run.info.run_id, provenance=provenance, params=_params_dict(params) or None,
                           data_context="evaluation")
    extra = {"reference_scores": references_uri, "run_id": run.info.run_id, **(tags or {})}
    if cnn_model_uri:
        extra["cnn_model_uri"] = cnn_model_uri
    return register_model_version(
        info.model_uri,
        name,
        test_metrics=test_metrics,
        thresholds=ensembles.thresholds(),
        provenance=provenance,
        primary_method=primary_method,
        task=task,
        params=params,
        tags=extra,
        documents=documents,
    )
