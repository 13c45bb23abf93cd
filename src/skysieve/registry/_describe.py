"""What a registered version shows a person in the MLflow UI, and the documents stored with it.

A version's tags stay short and scalar (see :mod:`skysieve.registry._registry`);
what is long lives elsewhere:

- **documents** — the full params and a search's configs (the catalog
  config …) — are JSON artifacts of the logged model, ``skysieve/<name>.json``,
  read back with :func:`read_version_documents`;
- the **test metrics** (with their bootstrap intervals where the evaluation
  gives ``<metric>_lo`` / ``<metric>_hi``) are MLflow metrics
  ``test.<method>.<metric>`` of the registering run and of the logged model,
  so model pages show them and versions can be charted against each other
  (:func:`log_test_metrics`);
- the **description** (:func:`describe_version`) is Markdown: the metrics
  table, the thresholds, the data and code it came from, and how to promote it.
"""

import json
import math
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DOCUMENTS_DIR", "describe_version", "log_test_metrics", "log_version_documents", "metric_values",
           "model_id_of", "read_version_documents"]

#: Artifact folder of a logged model that holds its documents.
DOCUMENTS_DIR = "skysieve"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
#: Columns of the description's metrics table, in order (those a method has).
_COLUMNS = (("purity", "purity"), ("completeness", "completeness"), ("f1", "F1"), ("roc_auc", "ROC-AUC"),
            ("pr_auc", "PR-AUC"), ("accuracy", "accuracy"), ("tp", "TP"), ("fp", "FP"), ("fn", "FN"), ("tn", "TN"))


def model_id_of(model_uri: str) -> str | None:
    """The logged-model id of ``models:/m-…`` (MLflow 3), else None."""
    ref = str(model_uri).removeprefix("models:/")
    return ref.split("/", 1)[0] if str(model_uri).startswith("models:/m-") else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def metric_values(test_metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """``{"test.<method>.<metric>": value}`` for every finite number of ``test_metrics`` (intervals included)."""
    out = {}
    for method, metrics in test_metrics.items():
        for key, value in metrics.items():
            number = _number(value)
            if number is not None:
                out[f"test.{method}.{key}"] = number
    return out


def log_test_metrics(run_id: str, test_metrics: Mapping[str, Mapping[str, Any]], *, model_id: str | None = None,
                     dataset: tuple[str, str] | None = None, client: Any = None) -> dict[str, float]:
    """Log the test metrics as MLflow metrics of the run, linked to the logged model ``model_id``.

    Parameters
    ----------
    run_id : str
        The registering run.
    test_metrics : mapping of str to mapping
        ``{method: {metric: value}}``; intervals as ``<metric>_lo`` / ``<metric>_hi``.
    model_id : str, keyword-only, optional
        The logged model (``m-…``): its page then lists the metrics.
    dataset : (name, digest), keyword-only, optional
        The test data the metrics were measured on (a dataset input of the run).
    client : mlflow.MlflowClient, optional

    Returns
    -------
    dict of str to float
        What was logged, ``test.<method>.<metric>``.
    """
    import mlflow
    from mlflow.entities import Metric

    client = client or mlflow.MlflowClient()
    values = metric_values(test_metrics)
    now = int(time.time() * 1000)
    name, digest = dataset or (None, None)
    metrics = [Metric(k, v, now, 0, model_id=model_id, dataset_name=name, dataset_digest=digest)
               for k, v in values.items()]
    for i in range(0, len(metrics), 200):
        client.log_batch(run_id, metrics=metrics[i: i + 200])
    return values


def log_version_documents(model_uri: str, documents: Mapping[str, Any], *, client: Any = None) -> None:
    """Store JSON documents with a logged model, as ``skysieve/<name>.json`` of its artifacts.

    Parameters
    ----------
    model_uri : str
        ``models:/m-…`` (a logged model) or ``runs:/RUN/PATH`` (a model in a run).
    documents : mapping of str to JSON-ready data
        Names are file stems (letters, digits, ``_.-``).

    Raises
    ------
    RegistryError
        A name that is not a plain file stem, or a URI of another form.
    """
    import mlflow

    from skysieve.errors import RegistryError

    bad = [k for k in documents if not _NAME.match(str(k))]
    if bad:
        raise RegistryError(f"document names {bad} must be plain file names (letters, digits, '_', '.', '-')")
    if not documents:
        return
    client = client or mlflow.MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        for key, value in documents.items():
            (Path(tmp) / f"{key}.json").write_text(json.dumps(value, indent=1, sort_keys=True, default=str))
        model_id = model_id_of(model_uri)
        if model_id is not None:
            client.log_model_artifacts(model_id, tmp, artifact_path=DOCUMENTS_DIR)
        elif str(model_uri).startswith("runs:/"):
            run_id, _, path = str(model_uri).removeprefix("runs:/").partition("/")
            client.log_artifacts(run_id, tmp, artifact_path="/".join(p for p in (path, DOCUMENTS_DIR) if p))
        else:
            raise RegistryError(f"cannot store documents with {model_uri}: expected models:/m-… or runs:/RUN/PATH")


def read_version_documents(name: str, version: str | int) -> dict[str, Any]:
    """The documents stored with a registered version (:func:`log_version_documents`), by name.

    Returns
    -------
    dict
        ``{name: parsed JSON}``; empty for a version registered without any
        (before documents existed, or outside skysieve).

    Raises
    ------
    RegistryError
        A document that is not valid JSON.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from skysieve.errors import RegistryError

    uri = f"models:/{name}/{version}/{DOCUMENTS_DIR}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        except (MlflowException, OSError):
            return {}
        out = {}
        for path in sorted(local.glob("*.json")) if local.is_dir() else []:
            try:
                out[path.stem] = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise RegistryError(f"model '{name}' v{version}: artifact {DOCUMENTS_DIR}/{path.name} is not "
                                    f"JSON ({exc}); re-register the version") from None
        return out


def _fmt(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "–"
    if float(number).is_integer() and abs(number) >= 1:
        return f"{int(number)}"
    return f"{number:.3f}"


def _cell(metrics: Mapping[str, Any], key: str) -> str:
    text = _fmt(metrics.get(key))
    lo, hi = _number(metrics.get(f"{key}_lo")), _number(metrics.get(f"{key}_hi"))
    if text != "–" and lo is not None and hi is not None:
        text += f" ({_fmt(lo)}–{_fmt(hi)})"
    return text


def describe_version(name: str, version: str | int, *, task: str, primary_method: str,
                     test_metrics: Mapping[str, Mapping[str, Any]], thresholds: Mapping[str, float],
                     provenance: Mapping[str, str], data_hash: str, run_id: str | None = None,
                     references_uri: str | None = None, documents: tuple[str, ...] = ()) -> str:
    """The Markdown description of a registered version, as the MLflow UI shows it.

    Returns
    -------
    str
        Sections: a summary line, the test metrics per method (95 % bootstrap
        intervals where ``<metric>_lo`` / ``<metric>_hi`` are given), the
        thresholds, the data (DVC paths and md5s), the code and run, the
        stored documents, and the ``skysieve promote`` commands.
    """
    from skysieve._tracking import data_inputs

    primary = test_metrics.get(primary_method, {})
    summary = (f"**{name} v{version}** — search `{task}`; primary method `{primary_method}`, "
               f"test F1 {_cell(primary, 'f1')}.")
    lines = [summary, ""]
    columns = [(k, label) for k, label in _COLUMNS if any(k in m for m in test_metrics.values())]
    intervals = any(f"{k}_lo" in m for m in test_metrics.values() for k, _ in columns)
    lines += ["### Test metrics", "",
              "| method | " + " | ".join(label for _, label in columns) + " |",
              "|---|" + "---:|" * len(columns)]
    for method in sorted(test_metrics, key=lambda m: (m != primary_method, m)):
        label = f"**{method}** (primary)" if method == primary_method else method
        lines.append(f"| {label} | " + " | ".join(_cell(test_metrics[method], k) for k, _ in columns) + " |")
    known = {k for k, _ in columns}
    others = sorted({k for m in test_metrics.values() for k in m if k not in known and not k.endswith(("_lo", "_hi"))
                     and any(_number(m.get(k)) is not None for m in test_metrics.values())})
    if others:
        methods = sorted(test_metrics, key=lambda m: (m != primary_method, m))
        lines += ["", "| other test figures | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
        lines += [f"| {k} | " + " | ".join(_cell(test_metrics[m], k) for m in methods) + " |" for k in others]
    lines += ["", "Intervals in brackets: 95 % bootstrap over the test objects." if intervals else
              "No bootstrap intervals were recorded with these metrics.", ""]
    lines += ["### Thresholds", "", "Chosen on the validation split, applied unchanged to test.", "",
              "| threshold | value |", "|---|---:|"]
    lines += [f"| `{k}` | {float(v):.6g} |" for k, v in sorted(thresholds.items())]
    lines += ["", "### Data", "", f"Data hash: `{data_hash}`", "", "| DVC path | md5 | from |", "|---|---|---|"]
    lines += [f"| `{d['path']}` | `{d['md5']}` | {d['md5_source']} |" for d in data_inputs(provenance)]
    dirty = provenance.get("git.dirty")
    lines += ["", "### Code", "", f"- git commit `{provenance.get('git.commit', 'unknown')}`"
              + (" (uncommitted changes)" if dirty == "true" else "")]
    if run_id:
        lines.append(f"- registering run `{run_id}`")
    if references_uri:
        lines.append(f"- reference scores `{references_uri}`")
    if documents:
        lines.append("- stored with the model: " + ", ".join(f"`{DOCUMENTS_DIR}/{d}.json`" for d in documents))
    lines += ["", "### Promote", "",
              "Champion unless its test F1 is worse than the champion's beyond the noise on the same data hash "
              "(paired bootstrap of the difference where both stored their test decisions, else the 95 % "
              "intervals):", "",
              "```", f"skysieve promote {name} --version {version}", "```", "",
              (f"`--force --reason TEXT` overrides the guard (recorded); `skysieve promote {name} --rollback` "
               "returns to the previous champion."), ""]
    return "\n".join(lines)
