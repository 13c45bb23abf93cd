"""The suite's hygiene (``tests/conftest.py``): Keras's home is a temp dir, MLflow's state does not leak,
MLflow telemetry is off."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import KERAS_HOME, isolated_global_state, new_mlflow_store


def test_keras_keeps_its_config_in_the_session_temp_dir():
    import keras  # noqa: F401  (writes keras.json into its home on import)

    assert os.environ["KERAS_HOME"] == str(KERAS_HOME)
    assert not KERAS_HOME.is_relative_to(Path.home())
    # KERAS_HOME is new each session: keras.json there means keras took it as its home.
    assert (KERAS_HOME / "keras.json").is_file()


def test_mlflow_state_and_environment_are_put_back(tmp_path, monkeypatch, mlflow_template):
    import mlflow

    from skysieve._tracking import configure_mlflow
    from skysieve.cli._common import configure_environment

    env_before = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MPLCONFIGDIR")}
    uri_before = mlflow.get_tracking_uri()
    with isolated_global_state():
        configure_environment(tmp_path)  # MPLCONFIGDIR etc. under tmp_path, where unset
        monkeypatch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(mlflow_template, tmp_path, "inside.db"))
        assert configure_mlflow(tmp_path) == f"sqlite:///{tmp_path}/inside.db"
        experiment = mlflow.create_experiment("inside", artifact_location=(tmp_path / "artifacts").as_uri())
        mlflow.set_experiment(experiment_id=experiment)  # sets MLFLOW_EXPERIMENT_ID too
        run = mlflow.start_run()  # left open
    assert mlflow.active_run() is None
    assert mlflow.MlflowClient(f"sqlite:///{tmp_path}/inside.db").get_run(run.info.run_id).info.status == "FINISHED"
    assert {k: os.environ.get(k) for k in env_before} == env_before
    assert mlflow.get_tracking_uri() == uri_before
    # Nothing is pinned: a tracking URI given by the environment is honoured again.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/after.db")
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path}/after.db"


def test_mlflow_telemetry_is_off_also_while_test_modules_are_imported():
    """MLflow turns its telemetry off by itself while a test runs (``PYTEST_CURRENT_TEST``), but not while
    pytest imports the test modules, several of which import mlflow: the conftest's switch covers that."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    code = "import mlflow; from mlflow.telemetry import get_telemetry_client; print(get_telemetry_client())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "None", out.stdout + out.stderr
