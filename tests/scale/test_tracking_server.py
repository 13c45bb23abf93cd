"""`skysieve server start` on PostgreSQL: runs, the registry, promotion and loading by alias, all through HTTP."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from skysieve._server import free_port, start_mlflow_server
from skysieve.registry import CHAMPION, get_model_version, register_ensemble, register_model_version
from tests.registry.conftest import fitted, provenance_for  # noqa: F401
from tests.registry.test_concurrent_promote import assert_one_champion_and_a_chained_history, race_promotions
from tests.scale.conftest import _drop, _with_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BIN = Path(sys.executable).parent
NAME = "sz-ensemble-served"


@pytest.fixture(scope="module")
def tracking_server(postgres_url, tmp_path_factory):
    """`skysieve server start` on a free loopback port, backed by a new PostgreSQL database."""
    root = tmp_path_factory.mktemp("tracking-server")
    database = f"skysieve_server_{uuid.uuid4().hex[:12]}"
    backend = _with_database(postgres_url, database)
    port = free_port()
    cmd = [str(BIN / "skysieve"), "server", "start", "--backend-store-uri", backend,
           "--artifacts-destination", str(root / "artifacts"), "--port", str(port), "--workers", "1"]
    server = start_mlflow_server(cmd, log=root / "server.log", url=f"http://127.0.0.1:{port}", timeout=240)
    try:
        yield server, root
    finally:
        server.stop(timeout=5)
        _drop(postgres_url, database)


def test_log_register_promote_and_load_by_alias_through_the_server(tracking_server, fitted, tmp_path,  # noqa: F811
                                                                   monkeypatch):
    server, root = tracking_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.chdir(tmp_path)
    from skysieve._tracking import configure_mlflow, experiment_id

    assert configure_mlflow() == server.url
    exp = experiment_id("served")
    assert mlflow.get_experiment(exp).artifact_location.startswith("mlflow-artifacts:")  # the server's choice

    # A run: params, metrics and an artifact go through the server.
    with mlflow.start_run(experiment_id=exp, run_name="hello") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("f1", 0.75, step=1)
        mlflow.log_dict({"ok": True}, "check.json")
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params["alpha"] == "0.5" and got.data.metrics["f1"] == 0.75
    assert mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/check.json") == {"ok": True}
    assert list((root / "artifacts").rglob("check.json")), "artifacts land in the server's destination"

    # Register three versions; promote the first with the real command, then race two promotions.
    ens, _, test, metrics = fitted
    mlflow.set_experiment(experiment_id=exp)
    first = register_ensemble(ens, NAME, task="sz", test_metrics={**metrics, "rank_product": {**metrics["rank_product"],
                                                                                     "f1": 0.5}},
                              provenance=provenance_for())
    for f1 in (0.6, 0.7):
        register_model_version(first.source, NAME, task="sz", test_metrics={**metrics, "rank_product": {
            **metrics["rank_product"], "f1": f1}}, thresholds=ens.thresholds(), provenance=provenance_for(),
            primary_method="rank_product")
    out = subprocess.run([str(BIN / "skysieve"), "promote", NAME, "--version", "1"], capture_output=True, text=True,
                         env={**os.environ, "MLFLOW_TRACKING_URI": server.url}, timeout=180, check=False)
    assert out.returncode == 0, out.stderr
    assert f"to champion over no champion  [{server.url}]" in out.stdout
    results = race_promotions(NAME, ["2", "3"], tmp_path, env={"MLFLOW_TRACKING_URI": server.url})
    assert_one_champion_and_a_chained_history(NAME, ["1", "2", "3"], [{"version": "1", "previous": None}, *results])

    # Load the champion by alias, through the server, and score like the fitted ensembles.
    champion = get_model_version(NAME, alias=CHAMPION)
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@{CHAMPION}")
    scored = model.predict(test[["cnn_prob", "mf_snr"]])
    assert isinstance(scored, pd.DataFrame) and len(scored) == len(test)
    for method, decision in ens.decide(test["cnn_prob"], test["mf_snr"]).items():
        np.testing.assert_array_equal(scored[f"decision_{method}"].to_numpy(), decision)
    assert champion.version in ("2", "3", 2, 3)
