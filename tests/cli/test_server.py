"""`skysieve server start --artifacts s3://…` on a loopback S3 (moto): artifacts and models in the bucket, no secret out.

The tracking server runs on SQLite in a temporary directory; the bucket's
credentials are in the environment only (``tests/_s3.py``). The client is
given no S3 endpoint: its artifacts go through the server (``mlflow-artifacts:``).
"""

import json
import logging
import os
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from skysieve._server import free_port, mlflow_server_env, start_mlflow_server
from skysieve.errors import ConfigError
from tests._s3 import files_holding, s3_bucket, s3_endpoint  # noqa: F401
from tests.conftest import new_mlflow_store
from tests.registry.conftest import fitted, provenance_for  # noqa: F401
from tests.train.conftest import tiny_cutouts  # noqa: F401

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: A password for the URLs of the secrets test (the AWS secret is the bucket's).
PASSWORD = "PWsecret-7f3a91"


@pytest.fixture(scope="module")
def s3_server(s3_bucket, tmp_path_factory, mlflow_template):  # noqa: F811
    """`skysieve server start --artifacts s3://BUCKET/mlflow --s3-endpoint-url …` on SQLite, on a free port."""
    root = tmp_path_factory.mktemp("s3-server")
    port = free_port()
    cmd = [str(BIN / "skysieve"), "server", "start", "--backend-store-uri", new_mlflow_store(mlflow_template, root),
           "--artifacts", s3_bucket.url("mlflow"), "--s3-endpoint-url", s3_bucket.endpoint,
           "--port", str(port), "--workers", "1"]
    server = start_mlflow_server(cmd, log=root / "server.log", url=f"http://127.0.0.1:{port}", timeout=240)
    try:
        yield server, root
    finally:
        server.stop(timeout=5)


def test_runs_artifacts_and_models_go_through_the_server_into_the_bucket(s3_server, s3_bucket, fitted,  # noqa: F811
                                                                         tmp_path, monkeypatch):
    from skysieve._tracking import configure_mlflow, experiment_id
    from skysieve.registry import register_ensemble

    server, root = s3_server
    started = server.log.read_text()
    assert f"artifacts {s3_bucket.url('mlflow')} at {s3_bucket.endpoint}" in started, started
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.chdir(tmp_path)
    assert "MLFLOW_S3_ENDPOINT_URL" not in os.environ  # the client knows the server only
    assert configure_mlflow() == server.url
    exp = experiment_id("s3-artifacts")
    assert mlflow.get_experiment(exp).artifact_location.startswith("mlflow-artifacts:")

    with mlflow.start_run(experiment_id=exp, run_name="to-s3") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_dict({"ok": True, "n": 3}, "check/check.json")
    run_id = run.info.run_id
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/check/check.json") == {"ok": True, "n": 3}
    keys = s3_bucket.object_keys("mlflow/")
    assert [k for k in keys if k.endswith(f"/{run_id}/artifacts/check/check.json")], keys

    # A registered model: logged, registered and loaded back through the server; its files are in the bucket.
    ens, _, test, metrics = fitted
    mlflow.set_experiment(experiment_id=exp)
    version = register_ensemble(ens, "s3-ensemble", task="sz", test_metrics=metrics, provenance=provenance_for())
    model = mlflow.pyfunc.load_model(f"models:/s3-ensemble/{version.version}")
    scored = model.predict(test[["cnn_prob", "mf_snr"]])
    for method, decision in ens.decide(test["cnn_prob"], test["mf_snr"]).items():
        np.testing.assert_array_equal(scored[f"decision_{method}"].to_numpy(), decision)
    model_id = version.source.removeprefix("models:/")
    model_keys = [k for k in s3_bucket.object_keys("mlflow/") if f"/models/{model_id}/artifacts/" in k]
    assert {k.rsplit("/", 1)[1] for k in model_keys} >= {"MLmodel", "thresholds.json", "references.npz"}, model_keys
    assert not list(root.rglob("MLmodel")) and not list(tmp_path.rglob("MLmodel"))  # nothing kept on local disk


def test_no_password_or_aws_secret_reaches_a_tag_param_artifact_or_log(s3_server, s3_bucket, fitted,  # noqa: F811
                                                                       tiny_cutouts, tmp_path, monkeypatch,  # noqa: F811
                                                                       caplog, capfd):
    """A tune, a registration and a promotion with password-bearing URLs: the secrets are nowhere they are recorded."""
    from skysieve.cli import build_app
    from skysieve.registry import read_version_documents, register_ensemble

    server, root = s3_server
    caplog.set_level(logging.INFO)
    monkeypatch.chdir(tmp_path)
    # Basic-auth credentials in the tracking URI (the server ignores them), a password in the Optuna storage URL.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url.replace("http://", f"http://skysieve:{PASSWORD}@"))
    storage = f"sqlite:///file:{tmp_path}/optuna.db?mode=rwc&uri=true&password={PASSWORD}"
    monkeypatch.setenv("SKYSIEVE_OPTUNA_STORAGE", storage)
    params = {"train_sz": {"net": {"name": "vgg", "filters": 4, "blocks": 2, "convs_per_block": 1,
                                   "dense_units": 8},
                           "batch_size": 32, "epochs": 1, "splitter": "holdout", "norm_sample": 32,
                           "experiment": "secrets"},
              "tune_sz": {"n_trials": 1, "startup_trials": 1, "storage": storage,
                          "search_space": {"net.dense_units": {"type": "categorical", "choices": [8, 16]}}}}
    given = tmp_path / "given" / "params.yaml"  # the user's own file: the one place the password is written
    given.parent.mkdir()
    given.write_text(yaml.safe_dump(params))
    runner = CliRunner()
    app = build_app()
    tuned = runner.invoke(app, ["tune", "sz", "--params", str(given), "--data", str(tiny_cutouts.tensor_path.parent),
                                "--no-handoff"])
    assert tuned.exit_code == 0, tuned.output
    ens, _, _, metrics = fitted
    mlflow.set_experiment("secrets")
    version = register_ensemble(ens, "secrets-ensemble", task="sz", test_metrics=metrics, provenance=provenance_for(),
                                params=params)
    promoted = runner.invoke(app, ["promote", "secrets-ensemble"])
    assert promoted.exit_code == 0, promoted.output
    assert f"[http://skysieve:***@127.0.0.1:{server.url.rsplit(':', 1)[1]}]" in promoted.output
    # A storage URL SQLAlchemy cannot parse: the error names it, masked (SQLAlchemy's own message repeats it).
    broken = runner.invoke(app, ["tune", "sz", "--params", str(given), "--data", str(tiny_cutouts.tensor_path.parent),
                                 "--no-handoff",
                                 "--storage", f"postgres ql://optuna:{PASSWORD}@db/optuna"])
    assert broken.exit_code == 2 and "cannot open Optuna storage 'postgres ql://optuna:***@db/optuna'" in broken.output

    client = mlflow.MlflowClient()
    secrets = (PASSWORD, s3_bucket.secret)
    recorded: list[tuple[str, str]] = []  # (where, text) of everything MLflow holds
    experiments = client.search_experiments()
    assert {"secrets"} <= {e.name for e in experiments}
    runs = client.search_runs([e.experiment_id for e in experiments])
    parent = next(r for r in runs if r.data.tags.get("skysieve.run_kind") == "study")
    assert "password=***" in parent.data.tags["optuna.storage"]
    assert len(runs) >= 4  # study, trial, fold, register
    for run in runs:
        where = f"run {run.info.run_name}"
        recorded += [(f"{where} tag {k}", f"{k}={v}") for k, v in run.data.tags.items()]
        recorded += [(f"{where} param {k}", f"{k}={v}") for k, v in run.data.params.items()]
        recorded += [(f"{where} metric", k) for k in run.data.metrics]
        downloaded = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                                              dst_path=str(tmp_path / "artifacts" / run.info.run_id)))
        recorded += [(f"{where} artifact {p.name}", p.read_bytes().decode(errors="replace"))
                     for p in downloaded.rglob("*") if p.is_file()]
    registered = client.get_registered_model("secrets-ensemble")
    recorded += [(f"registered model tag {k}", f"{k}={v}") for k, v in registered.tags.items()]
    recorded += [(f"version tag {k}", f"{k}={v}") for k, v in client.get_model_version(
        "secrets-ensemble", version.version).tags.items()]
    documents = read_version_documents("secrets-ensemble", version.version)  # the params, as a version document
    assert "params" in documents
    recorded += [(f"version document {k}", json.dumps(v)) for k, v in documents.items()]
    stored = client.get_model_version("secrets-ensemble", version.version)
    recorded += [("version description", stored.description or "")]
    out, err = capfd.readouterr()
    recorded += [("tune output", tuned.output), ("promote output", promoted.output), ("error", broken.output),
                 ("stdout", out), ("stderr", err), ("log", caplog.text), ("server log", server.log.read_text())]
    leaks = [where for where, text in recorded for secret in secrets if secret in text]
    assert not leaks, leaks
    # Whatever else is on disk: the server's store, the bucket, the working directory.
    assert files_holding(PASSWORD, root, tmp_path) == [given]
    assert not files_holding(s3_bucket.secret, root, tmp_path)
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_bucket.endpoint)
    for key in s3_bucket.object_keys():
        body = s3.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read()
        assert not any(secret.encode() in body for secret in secrets), key


def test_server_env_needs_a_bucket_and_an_http_endpoint():
    assert mlflow_server_env(artifacts_destination="mlartifacts") == {}
    assert mlflow_server_env(artifacts_destination="s3://b/p", s3_endpoint_url="http://127.0.0.1:9000") == {
        "MLFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}
    with pytest.raises(ConfigError, match=r"'s3:///mlflow' names no bucket; write s3://BUCKET/PATH"):
        mlflow_server_env(artifacts_destination="s3:///mlflow")
    with pytest.raises(ConfigError, match=r"--s3-endpoint-url 'minio:9000' is not an http\(s\):// URL"):
        mlflow_server_env(artifacts_destination="s3://b", s3_endpoint_url="minio:9000")



def test_links_open_each_experiments_training_runs(mlflow_db, monkeypatch):
    from typer.testing import CliRunner

    from skysieve._tracking import experiment_id
    from skysieve.cli import build_app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)
    mlflow.set_tracking_uri(mlflow_db)
    sz = experiment_id("sz")
    result = CliRunner().invoke(build_app(), ["server", "links", "--url", "http://tracking-host:5000/"])
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.startswith("sz "))
    assert line.split()[-1] == f"http://tracking-host:5000/#/experiments/{sz}/runs?workflowType=machine_learning"
