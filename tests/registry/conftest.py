"""A real MLflow registry on SQLite in a temporary directory, and fitted ensembles to put in it."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from skysieve.ensemble import evaluate_ensembles, fit_ensembles


def _scores(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.05
    return pd.DataFrame({
        "label": y.astype(int),
        "cnn_prob": np.clip(rng.normal(0.1 + 0.5 * y, 0.2), 0, 1),
        "mf_snr": rng.normal(2 + 4 * y, 1.5),
    })


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch, mlflow_db):
    """Point MLflow (and ``configure_mlflow``) at ``sqlite:///<tmp>/mlflow.db``, artifacts in tmp.

    The store is a copy of the session's migrated one (``mlflow_db``, tests/conftest.py).
    The autouse fixture of ``tests/conftest.py`` ends the test's runs and puts MLflow back afterwards.
    """
    uri = mlflow_db
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("registry-test", artifact_location=(tmp_path / "mlartifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    return uri


@pytest.fixture(scope="session")
def fitted():
    """(ensembles, val, test, test metrics per method) on 2000 + 2000 seeded cutouts."""
    val, test = _scores(2000, 1), _scores(2000, 2)
    ens = fit_ensembles(val)
    results = evaluate_ensembles(ens, val, test)
    return ens, val, test, {m: r.test.as_dict() for m, r in results.items()}


def provenance_for(data_md5: str = "a1b2c3.dir", commit: str = "0123abcd") -> dict[str, str]:
    """A provenance record as ``skysieve._tracking.provenance`` writes one."""
    return {"git.commit": commit, "git.dirty": "false", "data.data/sz/cutouts.md5": data_md5,
            "data.data/sz/cutouts.md5_source": "dvc.lock"}  # fmt: skip


@pytest.fixture(scope="package")
def trained_dir(tmp_path_factory):
    """A tiny CNN trained with the training engine (2 folds, 2 steps) on 16×16×3 cutouts, saved as
    ``skysieve train`` saves it (``FoldEnsemble.save`` with the channels and cutout shape); trained once for the
    folder's modules, which only read it."""
    from skysieve.config import TrainParams
    from skysieve.data.dataset import open_dataset
    from skysieve.train import train_ensemble
    from tests.train._fixtures import write_tiny_dataset

    root = tmp_path_factory.mktemp("train")
    dataset = open_dataset(write_tiny_dataset(root / "cutouts", n=120, size=16))
    cfg = TrainParams.model_validate({
        "net": {"name": "resnet_small", "stem_filters": 4, "width": 2, "stages": 2, "dense_units": 8},
        "optimizer": {"name": "adam", "learning_rate": 3e-3}, "batch_size": 32, "eval_batch_size": 64,
        "epochs": 1, "steps_per_epoch": 2, "k_folds": 2, "splitter": "group_kfold", "norm_sample": 32, "seed": 3})
    result = train_ensemble(cfg, dataset)
    result.ensemble.metadata.update({"task": "sz", "net": cfg.net.name, "channels": list(dataset.channels),
                                     "input_shape": list(dataset.shape[1:])})
    return result.ensemble.save(root / "models" / "sz" / "cnn")
