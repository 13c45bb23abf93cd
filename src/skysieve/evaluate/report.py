"""The reporting edge: PNG plots, ``metrics.json``, CSVs for ``dvc plots``, MLflow logging.

Nothing here computes a metric; it draws and writes what
:func:`~skysieve.evaluate.evaluate_scores` and
:func:`~skysieve.ensemble.evaluate_ensembles` return.  Plots use matplotlib's
object API on the Agg canvas (no pyplot, no global backend switch), so they
render headless and in parallel.

Layout written by :func:`write_evaluation_report` under ``out_dir``::

    metrics.json                      # dvc metrics show / diff
    table.md                          # DeepSZ Table 1 on test
    plots/roc/<method>.csv            # dvc plots: x=fpr, y=tpr
    plots/pr/<method>.csv             # x=completeness, y=purity
    plots/f1_threshold/<method>.csv   # x=threshold, y=f1 (validation)
    plots/completeness_vs_mass/<method>.csv, ..._vs_redshift/, score_vs_offset/
    plots/folds.csv                   # one row per fold, if folds are given
    *.png                             # the same, drawn
"""

import csv
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skysieve.errors import RegistryError
from skysieve.evaluate._plots import (
    BINNED_LABELS,
    plot_binned,
    plot_confusion_matrices,
    plot_f1_threshold,
    plot_fold_box,
    plot_pr,
    plot_roc,
)
from skysieve.evaluate._protocol import EvaluationResult
from skysieve.metrics import summarize_folds

__all__ = [
    "log_report_run",
    "ReportFiles",
    "flatten_metrics",
    "log_report_to_mlflow",
    "plot_binned",
    "plot_confusion_matrices",
    "plot_f1_threshold",
    "plot_fold_box",
    "plot_pr",
    "plot_roc",
    "write_csv",
    "write_evaluation_report",
    "write_metrics_json",
]

def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics_json(metrics: Mapping[str, Any], path: str | Path) -> Path:
    """Write nested metrics as JSON for ``dvc metrics``; NaN and infinities become null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(metrics), indent=2, sort_keys=False) + "\n")
    return path


def _thin(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def write_csv(path: str | Path, columns: Mapping[str, Any], *, max_points: int | None = None) -> Path:
    """Write equal-length columns as a CSV with a header row (``dvc plots`` reads these).

    Parameters
    ----------
    path : str or Path
    columns : mapping of str to array-like of shape (n,)
    max_points : int, keyword-only, optional
        Keep at most this many rows, evenly spaced, first and last included.
    """
    cols = {k: np.asarray(v).ravel() for k, v in columns.items()}
    lengths = {v.size for v in cols.values()}
    if len(lengths) > 1:
        raise ValueError(f"write_csv: columns differ in length ({ {k: v.size for k, v in cols.items()} })")
    n = lengths.pop() if lengths else 0
    rows = _thin(n, max_points) if max_points else np.arange(n)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(cols))
        for i in rows:
            writer.writerow([_csv_cell(v[i]) for v in cols.values()])
    return path


def _csv_cell(v: Any) -> Any:
    if isinstance(v, np.floating | float):
        return "" if not math.isfinite(float(v)) else f"{float(v):.6g}"
    return v.item() if isinstance(v, np.generic) else v


def flatten_metrics(metrics: Mapping[str, Any], *, prefix: str = "") -> dict[str, float]:
    """Flatten nested metrics to ``{"test.cnn.f1": 0.6, ...}``, numbers only (for MLflow)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=name))
        elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
            if math.isfinite(float(value)):
                flat[name] = float(value)
    return flat


@dataclass
class ReportFiles:
    """What :func:`write_evaluation_report` wrote.

    Attributes
    ----------
    out_dir : Path
    metrics_json : Path
    markdown : Path or None
    pngs, csvs : dict of str to Path
    metrics : dict
        The nested metrics that went into ``metrics.json``.
    """

    out_dir: Path
    metrics_json: Path
    markdown: Path | None = None
    pngs: dict[str, Path] = field(default_factory=dict)
    csvs: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def write_evaluation_report(
    results: Mapping[str, EvaluationResult],
    out_dir: str | Path,
    *,
    fold_metrics: Sequence[Mapping[str, float]] | None = None,
    table_markdown: str | None = None,
    max_curve_points: int = 1000,
    extra_metrics: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write metrics, curves and plots of one or more evaluated methods.

    Parameters
    ----------
    results : mapping of str to EvaluationResult
        Per method, e.g. from :func:`~skysieve.ensemble.evaluate_ensembles`.
    out_dir : str or Path
        Created if missing; the layout is in this module's docstring.
    fold_metrics : sequence of mapping, keyword-only, optional
        One ``{metric: value}`` per CV fold: adds ``folds`` (mean, std, values)
        to ``metrics.json``, ``plots/folds.csv`` and ``folds.png``.
    table_markdown : str, keyword-only, optional
        A rendered comparison table (:func:`~skysieve.ensemble.table_to_markdown`)
        to write as ``table.md``.
    max_curve_points : int, keyword-only
        Rows per curve CSV.
    extra_metrics : mapping, keyword-only, optional
        More top-level sections of ``metrics.json`` (e.g. ``differences``:
        the paired-bootstrap ensemble − single-method intervals); a key may
        not clash with a method name or ``folds``.

    Returns
    -------
    ReportFiles
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = out / "plots"
    files = ReportFiles(out_dir=out, metrics_json=out / "metrics.json")

    metrics: dict[str, Any] = {name: r.metrics() for name, r in results.items()}
    if fold_metrics:
        summary = summarize_folds(fold_metrics)
        metrics["folds"] = {k: {"mean": s.mean, "std": s.std, "values": list(s.values)} for k, s in summary.items()}
        keys = list(summary)
        files.csvs["folds"] = write_csv(
            plots / "folds.csv", {"fold": np.arange(len(fold_metrics)), **{k: summary[k].values for k in keys}}
        )
        files.pngs["folds"] = plot_fold_box(fold_metrics, out / "folds.png")
    for key, value in (extra_metrics or {}).items():
        if key in metrics:
            raise ValueError(f"write_evaluation_report: extra_metrics key '{key}' clashes with a method or 'folds'")
        metrics[key] = value
    files.metrics = metrics
    write_metrics_json(metrics, files.metrics_json)

    test_curves = {n: r.test_curves for n, r in results.items() if r.test_curves is not None}
    val_curves = {n: r.val_curves for n, r in results.items() if r.val_curves is not None}
    for name, c in test_curves.items():
        files.csvs[f"roc/{name}"] = write_csv(
            plots / "roc" / f"{name}.csv", {"fpr": c.fpr, "tpr": c.tpr}, max_points=max_curve_points
        )
        files.csvs[f"pr/{name}"] = write_csv(
            plots / "pr" / f"{name}.csv", {"completeness": c.completeness, "purity": c.purity},
            max_points=max_curve_points,
        )  # fmt: skip
    for name, c in val_curves.items():
        files.csvs[f"f1_threshold/{name}"] = write_csv(
            plots / "f1_threshold" / f"{name}.csv", {"threshold": c.thresholds, "f1": c.f1},
            max_points=max_curve_points,
        )  # fmt: skip
    if test_curves:
        roc_labels = {n: f"{n} (AUC {results[n].test.format('roc_auc', digits=3)})" for n in test_curves}
        pr_labels = {n: f"{n} (AP {results[n].test.format('pr_auc', digits=3)})" for n in test_curves}
        files.pngs["roc"] = plot_roc(test_curves, out / "roc.png", labels=roc_labels)
        files.pngs["pr"] = plot_pr(test_curves, out / "pr.png", labels=pr_labels)
    if val_curves:
        chosen = {n: results[n].thresholds[n] for n in val_curves if n in results[n].thresholds}
        files.pngs["f1_threshold"] = plot_f1_threshold(val_curves, out / "f1_threshold.png", thresholds=chosen)
    files.pngs["confusion"] = plot_confusion_matrices({n: r.test.counts for n, r in results.items()},
                                                      out / "confusion.png",
                                                      titles={n: f"{n}  F1 {r.test.format('f1')}"
                                                              for n, r in results.items()})  # fmt: skip

    for kind, (xlabel, ylabel, xscale) in BINNED_LABELS.items():
        per_method = {n: r.binned[kind] for n, r in results.items() if kind in r.binned}
        if not per_method:
            continue
        for name, b in per_method.items():
            files.csvs[f"{kind}/{name}"] = write_csv(plots / kind / f"{name}.csv", b.as_columns())
        files.pngs[kind] = plot_binned(per_method, out / f"{kind}.png", xlabel=xlabel, ylabel=ylabel, xscale=xscale,
                                       panels=kind == "score_vs_offset")  # fmt: skip

    if table_markdown is not None:
        files.markdown = out / "table.md"
        files.markdown.write_text(table_markdown)
    return files


def log_report_to_mlflow(files: ReportFiles, *, run_id: str | None = None, artifact_path: str = "evaluation") -> str:
    """Log a written report to an MLflow run: flattened metrics and every file as artifacts.

    Parameters
    ----------
    files : ReportFiles
        From :func:`write_evaluation_report`.
    run_id : str, keyword-only, optional
        The run to log to; default the active run.
    artifact_path : str, keyword-only
        Artifact folder inside the run.

    Returns
    -------
    str
        The run id logged to.

    Raises
    ------
    RegistryError
        If no run is given and none is active.
    """
    import mlflow
    from mlflow.entities import Metric

    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise RegistryError(
                "log_report_to_mlflow: no active MLflow run; call it inside `with mlflow.start_run():` or pass run_id"
            )
        run_id = active.info.run_id
    client = mlflow.MlflowClient()
    flat = flatten_metrics(files.metrics)
    if flat:
        now = int(time.time() * 1000)
        items = [Metric(key=k, value=v, timestamp=now, step=0) for k, v in flat.items()]
        for start in range(0, len(items), 1000):
            client.log_batch(run_id, metrics=items[start : start + 1000])
    client.log_artifacts(run_id, str(files.out_dir), artifact_path=artifact_path)
    return run_id


def log_report_run(name: str, files: ReportFiles, *, provenance: Mapping[str, str], params: Any,
                   experiment: str) -> str:
    """Log a written report as a new MLflow run ``name`` of experiment ``experiment``; return its run id.

    The run carries the provenance (data hashes, git commit) and the params
    section of the stage that wrote the report.
    """
    import mlflow

    from skysieve._tracking import configure_mlflow, experiment_id, log_provenance

    configure_mlflow()
    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name=name) as run:
        log_provenance(run.info.run_id, provenance=provenance, params=params, data_context="evaluation")
        log_report_to_mlflow(files, run_id=run.info.run_id)
    return run.info.run_id
