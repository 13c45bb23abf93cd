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
