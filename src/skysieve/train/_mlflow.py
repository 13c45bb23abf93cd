"""MLflow at the edge of the engine: a nested run per fold, per-epoch curves, fold metrics."""

import math
from collections.abc import Mapping
from typing import Any

from skysieve.train._crossval import FoldResult
from skysieve.train._engine import TrainingObserver
from skysieve.train._split import Fold

__all__ = ["KIND_TAG", "MlflowFoldLogger", "finite_metrics"]

#: Tag naming what a run is: ``study``, ``trial``, ``fold`` or ``train``.
KIND_TAG = "skysieve.run_kind"


def finite_metrics(values: Mapping[str, float]) -> dict[str, float]:
    """Drop NaN / inf values (MLflow stores them, but the UI plots them badly)."""
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


class MlflowFoldLogger(TrainingObserver):
    """Opens a run per fold, nested under ``parent_run_id``, and logs into it as the engine goes.

    Parameters
    ----------
    client : mlflow.MlflowClient
    experiment_id : str
    parent_run_id : str
    tags : mapping, optional
        Extra tags for every fold run (provenance).
    params : pydantic section, optional
        Resolved params, logged onto every fold run.
    """

    def __init__(self, client: Any, *, experiment_id: str, parent_run_id: str,
                 tags: Mapping[str, str] | None = None, params: Any = None):
        self.client, self.experiment_id, self.parent_run_id = client, experiment_id, parent_run_id
        self.tags, self.params = dict(tags or {}), params
        self.run_id: str | None = None
        self.fold_run_ids: dict[int, str] = {}

    def fold_started(self, fold: Fold) -> None:
        from skysieve._tracking import log_provenance

        run = self.client.create_run(
            self.experiment_id, run_name=f"fold-{fold.index}",
            tags={"mlflow.parentRunId": self.parent_run_id, KIND_TAG: "fold", "skysieve.fold": str(fold.index)},
        )
        self.run_id = run.info.run_id
        self.fold_run_ids[fold.index] = self.run_id
        log_provenance(self.run_id, provenance=self.tags, params=self.params, client=self.client)
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[
            Param("fold.index", str(fold.index)), Param("fold.n_fit", str(fold.fit_rows.size)),
            Param("fold.n_held_out", str(fold.score_rows.size))])

    def epoch_ended(self, fold: Fold, step: int, logs: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(k, v, 0, step) for k, v in finite_metrics(logs).items()]
        if self.run_id is not None and metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def fold_ended(self, fold: Fold, result: FoldResult) -> None:
        from mlflow.entities import Metric

        values = {f"fold_{k}": v for k, v in result.metrics.items()}
        values.update({"best_epoch": result.fit.best_epoch, "train_seconds": result.fit.train_seconds,
                       "images_per_s": result.fit.images / max(result.fit.train_seconds, 1e-9)})
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, 0, 0) for k, v in finite_metrics(values).items()])
        self.client.set_terminated(self.run_id, "FINISHED")
        self.run_id = None

    def abort(self, status: str = "KILLED") -> None:
        """End the open fold run, if any, with ``status`` (``KILLED`` for pruned, ``FAILED``)."""
        if self.run_id is not None:
            self.client.set_tag(self.run_id, "skysieve.state", "PRUNED" if status == "KILLED" else status)
            self.client.set_terminated(self.run_id, status)
            self.run_id = None
