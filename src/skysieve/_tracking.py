"""MLflow set-up and run provenance shared by every tracked stage.

``configure_mlflow`` points MLflow at the embedded default (``sqlite:///mlflow.db``
with artifacts in ``./mlartifacts``) unless ``MLFLOW_TRACKING_URI`` names a
server (``http://host:5000``, see ``skysieve server start``) or a database;
``experiment_id`` creates (or finds) a search's experiment, marked as a
model-training experiment so the MLflow UI opens on its runs rather than on
MLflow 3's GenAI traces; ``provenance`` gathers what makes a run reproducible
(git commit, DVC hash of the input data, package versions); ``log_provenance``
writes it and the resolved params onto a run, and the DVC-tracked inputs as
MLflow dataset inputs (``log_data_inputs``: the UI's Dataset column shows
each input's path and md5).
"""

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from skysieve._io import load_yaml
__all__ = [
    "EXPERIMENT_KIND_TAG",
    "MODEL_TRAINING_KIND",
    "PACKAGES",
    "configure_mlflow",
    "data_hash",
    "data_inputs",
    "experiment_id",
    "flatten_params",
    "log_data_inputs",
    "log_provenance",
    "provenance",
    "ui_experiment_url",
]

#: Distributions whose versions every run records.
PACKAGES = ("skysieve", "keras", "tensorflow-cpu", "tensorflow", "jax", "torch", "numpy", "scikit-learn",
            "optuna", "mlflow", "h5py", "astropy", "dvc", "pydantic")

#: Experiment tag the MLflow 3 UI reads to choose an experiment's page (runs, or GenAI traces).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
#: Its value for a model-training experiment: the UI opens on the training runs.
MODEL_TRAINING_KIND = "custom_model_development"

_TELEMETRY_OFF = {"MLFLOW_ENABLE_TELEMETRY": "false", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


def _is_local(uri: str) -> bool:
    """A store this process writes itself (a file, SQLite, a database URL), not a tracking server."""
    return not uri.startswith(("http://", "https://", "databricks"))


def configure_mlflow(root: str | Path | None = None) -> str:
    """Set the MLflow tracking URI and return it.

    Parameters
    ----------
    root : path, optional
        Directory holding ``mlflow.db`` and ``mlartifacts/`` (default: the
        current directory). Ignored when ``MLFLOW_TRACKING_URI`` is set.

    Returns
    -------
    str
        The tracking URI in force: ``$MLFLOW_TRACKING_URI`` or
        ``sqlite:///<root>/mlflow.db``. When it holds a password
        (``http://user:password@host``), MLflow's "View run at URL" lines are
        turned off (``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT``): they would print it.
    """
    import mlflow

    for key, value in _TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(Path(root or Path.cwd()) / 'mlflow.db').resolve()}"
    from skysieve._urls import safe_url

    if safe_url(uri) != uri:  # a password in the URI: MLflow would print it in every "View run … at: URL"
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    mlflow.set_tracking_uri(uri)
    return uri


def experiment_id(name: str, *, root: str | Path | None = None) -> str:
    """Id of MLflow experiment ``name``, created if missing, marked as a model-training experiment.

    On a store this process writes itself (sqlite, files, a database URL such
    as ``postgresql://…``) a new experiment keeps its artifacts in
    ``<root>/mlartifacts``; a tracking server chooses its own location. Safe
    when several processes create the same experiment at once.  The
    experiment carries ``mlflow.experimentKind = custom_model_development``
    (:data:`EXPERIMENT_KIND_TAG`), so the MLflow UI opens it on its training
    runs; an existing experiment without the tag gets it, one whose kind a
    person chose keeps it.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is None:
        location = None
        if _is_local(mlflow.get_tracking_uri()):
            location = (Path(root or Path.cwd()) / "mlartifacts").resolve().as_uri()
        try:
            return client.create_experiment(name, artifact_location=location,
                                            tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
        except MlflowException:
            found = client.get_experiment_by_name(name)  # another process created it first
            if found is None:
                raise
    if EXPERIMENT_KIND_TAG not in found.tags:
        client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)
    return found.experiment_id


def ui_experiment_url(server_url: str, experiment: str) -> str:
    """The MLflow UI page of an experiment's training runs.

    MLflow 3.17's UI chooses between its GenAI pages (traces) and its
    model-training pages (runs) by a per-browser switch, GenAI by default,
    and reads the ``workflowType`` URL parameter before it; this link carries
    ``workflowType=machine_learning`` so the runs open however the browser is set.

    Parameters
    ----------
    server_url : str
        ``http://host:port`` of ``mlflow server`` / ``skysieve server start``.
    experiment : str
        The experiment id.
    """
    return f"{server_url.rstrip('/')}/#/experiments/{experiment}/runs?workflowType=machine_learning"


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _md5_file(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _md5_dir(path: Path) -> str:
    # DVC's directory hash: md5 of the sorted JSON list of {md5, relpath}, suffixed ".dir".
    entries = [{"md5": _md5_file(p), "relpath": p.relative_to(path).as_posix()}
               for p in sorted(path.rglob("*")) if p.is_file()]
    entries.sort(key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def _dvc_lock_hash(path: Path, root: Path) -> str | None:
    lock = root / "dvc.lock"
    if not lock.is_file():
        return None
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        stages = (load_yaml(lock.read_text()) or {}).get("stages", {})
    except (ValueError, yaml.YAMLError, OSError):
        return None
    for stage in stages.values():
        for entry in [*stage.get("outs", []), *stage.get("deps", [])]:
            if str(entry.get("path", "")).rstrip("/") == rel and entry.get("md5"):
                return str(entry["md5"])
    return None


def data_hash(path: str | Path, *, root: str | Path | None = None) -> tuple[str, str]:
    """The DVC hash of a data file or directory and where it came from.

    Returns
    -------
    md5 : str
        The md5 ``dvc.lock`` records for ``path`` (ending ``.dir`` for a
        directory); if the path is not in ``dvc.lock``, the same hash
        computed from the files.
    source : {"dvc.lock", "computed", "missing"}
    """
    path, root = Path(path), Path(root or Path.cwd())
    locked = _dvc_lock_hash(path, root)
    if locked is not None:
        return locked, "dvc.lock"
    if path.is_dir():
        return _md5_dir(path), "computed"
    if path.is_file():
        return _md5_file(path), "computed"
    return "", "missing"


def provenance(data_paths: Iterable[str | Path] = (), *, root: str | Path | None = None) -> dict[str, str]:
    """What makes a run reproducible, as flat string tags.

    Parameters
    ----------
    data_paths : iterable of path
        Input data (files or directories) the run reads.
    root : path, optional
        Repository root (holds ``dvc.lock`` and ``.git``); default the current directory.

    Returns
    -------
    dict of str to str
        ``git.commit``, ``git.dirty``; ``data.<path>.md5`` and
        ``data.<path>.md5_source`` per input; ``version.<package>`` for the
        installed key packages, ``version.python``; ``keras.backend``.
    """
    root = Path(root or Path.cwd())
    tags = {"git.commit": _git(["rev-parse", "HEAD"], root) or "unknown"}
    status = _git(["status", "--porcelain", "--untracked-files=no"], root)
    tags["git.dirty"] = "unknown" if status is None else str(bool(status)).lower()
    for p in data_paths:
        p = Path(p)
        try:
            name = p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            name = p.as_posix()
        md5, source = data_hash(p, root=root)
        tags[f"data.{name}.md5"] = md5
        tags[f"data.{name}.md5_source"] = source
    for pkg in PACKAGES:
        try:
            tags[f"version.{pkg}"] = version(pkg)
        except PackageNotFoundError:
            continue
    tags["version.python"] = platform.python_version()
    tags["keras.backend"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules:
        tags["keras.backend"] = sys.modules["keras"].config.backend()
    return tags


def flatten_params(params: Any, prefix: str = "") -> dict[str, str]:
    """Flatten a params section (pydantic model or mapping) to dotted keys and string values, URLs' secrets masked."""
    from skysieve._urls import redact

    if hasattr(params, "model_dump"):
        params = params.model_dump(mode="json")
    return _flatten(redact(params), prefix)


def _flatten(params: Any, prefix: str) -> dict[str, str]:
    if isinstance(params, Mapping):
        out: dict[str, str] = {}
        for key, value in params.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): json.dumps(params) if isinstance(params, list | tuple) else str(params)}


def data_inputs(provenance: Mapping[str, str]) -> list[dict[str, str]]:
    """The DVC-tracked inputs a provenance record names, one dict per input.

    Returns
    -------
    list of dict
        ``path`` (repository-relative, as DVC tracks it), ``md5`` (ending ``.dir``
        for a directory) and ``md5_source`` (``dvc.lock``, ``computed`` or
        ``missing``), sorted by path; inputs without a hash are left out.
    """
    out = []
    for key, md5 in provenance.items():
        if key.startswith("data.") and key.endswith(".md5") and md5:
            path = key[len("data."):-len(".md5")]
            out.append({"path": path, "md5": str(md5),
                        "md5_source": str(provenance.get(f"data.{path}.md5_source", "unknown"))})
    return sorted(out, key=lambda d: d["path"])


def log_data_inputs(run_id: str, provenance: Mapping[str, str], *, context: str = "training",
                    client: Any = None) -> int:
    """Log a run's DVC-tracked inputs as MLflow dataset inputs, so the UI's Dataset column shows the data version.

    Each input of :func:`data_inputs` becomes a dataset named by its DVC path,
    with its md5 as the digest, the path as a ``local`` source and the md5
    and where it came from as the profile.  Logging the same inputs again
    (a resumed run) adds nothing.

    Parameters
    ----------
    run_id : str
    provenance : mapping
        From :func:`provenance`.
    context : str, keyword-only
        ``mlflow.data.context`` of the inputs: ``training`` or ``evaluation``.
    client : mlflow.MlflowClient, optional

    Returns
    -------
    int
        How many inputs were logged.
    """
    import mlflow
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client = client or mlflow.MlflowClient()
    inputs = [
        DatasetInput(Dataset(name=d["path"], digest=d["md5"][:36], source_type="local",
                             source=json.dumps({"uri": d["path"]}),
                             profile=json.dumps({"dvc_md5": d["md5"], "md5_source": d["md5_source"]})),
                     tags=[InputTag("mlflow.data.context", context)])
        for d in data_inputs(provenance)
    ]
    if inputs:
        client.log_inputs(run_id, datasets=inputs)
    return len(inputs)


def log_provenance(run_id: str, *, provenance: Mapping[str, str], params: Any = None, client: Any = None,
                   data_context: str = "training") -> None:
    """Write provenance tags, the DVC-tracked inputs and the resolved params onto an MLflow run.

    Parameters
    ----------
    run_id : str
    provenance : mapping
        From :func:`provenance`; written as tags, and its data inputs as MLflow
        dataset inputs (:func:`log_data_inputs`).
    params : pydantic section or mapping, optional
        Logged flattened as run params and whole as the artifact ``params.json``;
        passwords in URLs (an Optuna storage, a tracking server) are masked in both.
    client : mlflow.MlflowClient, optional
    data_context : str, keyword-only
        The inputs' ``mlflow.data.context``: ``training`` (tune, train) or
        ``evaluation`` (evaluate, register).
    """
    import mlflow
    from mlflow.entities import Param, RunTag

    from skysieve._urls import redact

    client = client or mlflow.MlflowClient()
    tags = [RunTag(k, str(v)) for k, v in provenance.items()]
    for i in range(0, len(tags), 100):
        client.log_batch(run_id, tags=tags[i : i + 100])
    log_data_inputs(run_id, provenance, context=data_context, client=client)
    if params is None:
        return
    flat = flatten_params(params)
    items = [Param(k, v[:6000]) for k, v in flat.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])
    dumped = params.model_dump(mode="json") if hasattr(params, "model_dump") else dict(params)
    client.log_dict(run_id, redact(dumped), "params.json")
