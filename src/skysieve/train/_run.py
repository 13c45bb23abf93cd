"""``skysieve train``: train the final fold ensemble, save it under ``models/<task>/cnn``, track it in MLflow.

Training checkpoints after every epoch into ``models/<task>/cnn.ckpt``; an
interrupted ``skysieve train`` run again with the same params and data goes
on from there, and the directory is removed once the model is saved.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from skysieve.config import TrainParams
from skysieve.train._checkpoint import CHECKPOINT_SUFFIX, TrainingCheckpoint, checkpoint_key
from skysieve.train._crossval import TrainedEnsemble, train_ensemble
from skysieve.train._mlflow import KIND_TAG, MlflowFoldLogger, finite_metrics

__all__ = ["OOF_FILE", "TrainRun", "checkpoint_dir_for", "run_train"]

OOF_FILE = "oof.fits"


@dataclass
class TrainRun:
    """What :func:`run_train` returns: the trained result, where it went, the MLflow run.

    ``resumed_epochs`` counts the epochs (all folds) restored from a checkpoint
    rather than trained; ``checkpoint_note`` says why a checkpoint found was
    not used, if one was not.
    """

    result: TrainedEnsemble
    model_dir: Path
    run_id: str
    tracking_uri: str
    resumed_epochs: int = 0
    checkpoint_note: str | None = None


def checkpoint_dir_for(out_dir: str | Path) -> Path:
    """Where training into ``out_dir`` keeps its checkpoints: ``<out_dir>.ckpt`` beside it."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + CHECKPOINT_SUFFIX)


def _oof_table(result: TrainedEnsemble, dataset) -> Table:
    cv = result.cv
    order = np.argsort(cv.oof_rows, kind="stable")
    rows = cv.oof_rows[order]
    return Table({"row": rows, "id": np.asarray(dataset.catalog["id"])[rows], "label": dataset.labels[rows],
                  "fold": cv.oof_fold[order], "score_raw": cv.oof_scores[order]},
                 meta={"COMMENT": "out-of-fold raw CNN probabilities (uncalibrated), one row per held-out cutout"})


def run_train(cfg: TrainParams, *, data_dir: str | Path, out_dir: str | Path, task: str,
              overrides: Mapping[str, Any] | None = None, root: str | Path | None = None,
              resume: bool = True, checkpoint_dir: str | Path | None = None) -> TrainRun:
    """Train, save and track the final model of one task.

    Opens an MLflow run ``train-<task>`` (with provenance and resolved params),
    one nested run per fold with its per-epoch curves, logs the fold metrics'
    mean and spread and the calibrated validation metrics, saves the
    :class:`~skysieve.train.FoldEnsemble` plus ``oof.fits`` into ``out_dir``
    and logs that directory as the run's ``model`` artifact.

    Parameters
    ----------
    cfg : TrainParams
        Already resolved (tuned overrides applied).
    data_dir : path
        Cutout dataset directory (``cutouts.h5`` + ``catalog.fits``).
    out_dir : path
        Model directory, replaced atomically.
    task : str
        ``sz``, ``lens``…; names the run and goes into the model's metadata.
    overrides : mapping, optional
        The tuned keys applied to ``cfg`` (recorded as the ``tuned`` params).
    root : path, optional
        Repository root: ``dvc.lock``, ``mlflow.db``, ``mlartifacts``.
    resume : bool
        Go on from the checkpoint an interrupted run left, if it was written
        for the same params and data (else it is discarded); False always
        starts from zero.
    checkpoint_dir : path, optional
        Default :func:`checkpoint_dir_for` ``(out_dir)``; removed on success.

    Returns
    -------
    TrainRun
    """
    import mlflow
    from mlflow.entities import Metric, Param

    from skysieve._tracking import configure_mlflow, experiment_id, log_provenance, provenance
    from skysieve.data.dataset import open_dataset

    dataset = open_dataset(data_dir)
    uri = configure_mlflow(root)
    client = mlflow.MlflowClient()
    exp = experiment_id(cfg.experiment or task, root=root)
    prov = provenance([data_dir], root=root)
    run = client.create_run(exp, run_name=f"train-{task}", tags={KIND_TAG: "train", "skysieve.task": task})
    run_id = run.info.run_id
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else checkpoint_dir_for(out_dir)
    data = {k: v for k, v in prov.items() if k.startswith("data.") and k.endswith(".md5")}
    try:
        checkpoint = TrainingCheckpoint.open(ckpt_dir, key=checkpoint_key(cfg, data=data), resume=resume,
                                             info={"mlflow_run_id": run_id, "task": task})
        earlier = [r["mlflow_run_id"] for r in checkpoint.read_meta()["runs"][:-1]]
        _close_interrupted_runs(client, earlier)
        if earlier:
            client.set_tag(run_id, "skysieve.resumes_run", earlier[-1])
        log_provenance(run_id, provenance=prov, params=cfg, client=client)
        if overrides:
            client.log_batch(run_id, params=[Param(f"tuned.{k}", str(v)) for k, v in overrides.items()])
        logger = MlflowFoldLogger(client, experiment_id=exp, parent_run_id=run_id, tags=prov, params=cfg)
        try:
            result = train_ensemble(cfg, dataset, observer=logger, checkpoint=checkpoint)
        except BaseException:
            logger.abort("FAILED")
            raise
        resumed = sum(f.fit.resumed_epochs for f in result.cv.folds)
        client.set_tag(run_id, "skysieve.resumed_epochs", str(resumed))
        values = {**result.cv.summary(), **result.metrics,
                  "platt_a": result.ensemble.calibrator.a_, "platt_b": result.ensemble.calibrator.b_}
        client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in finite_metrics(values).items()])
        result.ensemble.metadata.update({
            "task": task, "net": cfg.net.name, "channels": list(dataset.channels),
            "input_shape": list(dataset.shape[1:]), "mlflow_run_id": run_id, "mlflow_experiment": cfg.experiment or task,
            "params": cfg.model_dump(mode="json"), "tuned": dict(overrides or {}), "provenance": prov,
            "metrics": finite_metrics(values), "oof": OOF_FILE,
        })
        model_dir = result.ensemble.save(out_dir)
        _oof_table(result, dataset).write(model_dir / OOF_FILE, overwrite=True)
        client.log_artifacts(run_id, str(model_dir), "model")
        checkpoint.remove()
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return TrainRun(result, Path(out_dir), run_id, uri, resumed, checkpoint.discarded)


def _close_interrupted_runs(client, run_ids: list[str]) -> None:
    """Mark train runs a killed process left RUNNING as KILLED (the checkpoint they wrote is being resumed)."""
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
        except Exception:  # noqa: BLE001 - run in another tracking store, or deleted
            continue
        if run.info.status == "RUNNING":
            client.set_tag(run_id, "skysieve.state", "INTERRUPTED")
            client.set_terminated(run_id, "KILLED")
