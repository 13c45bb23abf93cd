"""MLflow at the edges of the morphology commands: one run per stage, Keras models in the registry.

Models are logged with MLflow's ``keras`` flavour (built-in layers only),
so ``mlflow.keras.load_model("models:/NAME/V")`` gives back the network a
fine-tune starts from (:func:`skysieve.registry.load_transfer_source`).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["RunLog", "register_keras", "tracked_run"]

SEARCH = "morphology"


class RunLog:
    """What a command logs into its active run."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def epoch(self, epoch: int, logs: Mapping[str, float], *, prefix: str = "") -> None:
        """Per-epoch metrics (``loss``, ``val_loss``, ``val_rmse``) at step ``epoch``."""
        import mlflow

        mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in logs.items()}, step=int(epoch))

    def metrics(self, values: Mapping[str, float]) -> None:
        """Final metrics of the run."""
        import mlflow

        mlflow.log_metrics({k: float(v) for k, v in values.items()})

    def tags(self, values: Mapping[str, Any]) -> None:
        """Run tags (the transfer lineage)."""
        import mlflow

        mlflow.set_tags({k: str(v) for k, v in values.items()})


@contextmanager
def tracked_run(name: str, *, params: Any, data: list[Path]) -> Iterator[RunLog]:
    """A run ``name`` in the ``morphology`` experiment carrying the params and the data's provenance."""
    import mlflow

    from skysieve._tracking import configure_mlflow, experiment_id, log_provenance, provenance

    configure_mlflow()
    with mlflow.start_run(experiment_id=experiment_id(SEARCH), run_name=name) as run:
        log_provenance(run.info.run_id, provenance=provenance(data), params=params)
        yield RunLog(run.info.run_id)


def register_keras(model: Any, *, name: str, evaluation: Mapping[str, Any], params: Any, data: list[Path],
                   tags: Mapping[str, Any]) -> dict[str, str]:
    """Log ``model`` (keras flavour) in the active run and register it as ``name`` with alias ``candidate``.

    The test RMSE (and its interval) and the MAP-class macro F1 become the
    version's test metrics (``test.cnn.*``); the macro F1 is the figure
    ``skysieve promote`` compares.
    """
    import mlflow.keras
    import numpy as np
    from mlflow.models import infer_signature

    from skysieve._tracking import provenance
    from skysieve.registry import register_model_version
    from skysieve.registry._environment import flavour_requirements

    x = np.zeros((1, *model.input_shape[1:]), dtype=np.float32)
    with flavour_requirements({"keras": "the morphology network (MLflow keras flavour)"}) as requirements:
        info = mlflow.keras.log_model(model, name="model", signature=infer_signature(x, model.predict(x, verbose=0)),
                                      pip_requirements=requirements)
    metrics = {k: float(evaluation[k]) for k in ("rmse", "rmse_lo", "rmse_hi", "macro_f1", "ece", "map_accuracy")
               if k in evaluation}
    metrics["f1"] = metrics["macro_f1"]
    mv = register_model_version(info.model_uri, name, test_metrics={"cnn": metrics}, thresholds={},
                                provenance=provenance(data), primary_method="cnn", task=SEARCH, params=params,
                                tags={"test_rmse": f"{metrics['rmse']:.4f}", "morphology.input_shape":
                                      "x".join(str(s) for s in model.input_shape[1:]), **tags})
    return {"name": name, "version": str(mv.version), "uri": f"models:/{name}/{mv.version}",
            "run_id": str(mv.run_id or "")}
