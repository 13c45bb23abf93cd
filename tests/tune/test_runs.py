"""The study's MLflow runs when the tracking store does not answer as expected: warnings and errors, not silence."""

import mlflow
import optuna
import pytest

from skysieve.config import TuneParams
from skysieve.errors import ConfigError
from skysieve.tune._runs import _PARENT_ATTR, _close_stale_runs, _parent_run

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers


@pytest.fixture
def offline(monkeypatch):
    """An MLflow tracking server that does not answer, failing at once instead of after retries."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    return UNREACHABLE


@pytest.fixture
def tracking():
    """Point the process-wide MLflow tracking URI somewhere for one test (what ``_close_stale_runs`` reads)."""
    previous = mlflow.get_tracking_uri()
    yield mlflow.set_tracking_uri
    mlflow.set_tracking_uri(previous)


def _client(uri):
    client = mlflow.MlflowClient(tracking_uri=uri)
    return client, client.create_experiment("tune")


def _study(parent_run_id: str):
    study = optuna.create_study(study_name="s", direction="maximize")
    study.set_user_attr(_PARENT_ATTR, parent_run_id)
    return study


TUNE = TuneParams.model_validate({"study_name": "s", "search_space": {}})


def _parent(client, study, exp):
    return _parent_run(client, study, created=False, experiment=exp, task="sz", storage="sqlite:///o.db", tune=TUNE)


def test_a_parent_run_in_the_store_is_reopened(mlflow_db):
    client, exp = _client(mlflow_db)
    run = client.create_run(exp)
    client.set_terminated(run.info.run_id, "FAILED")
    assert _parent(client, _study(run.info.run_id), exp) == (run.info.run_id, False)
    assert client.get_run(run.info.run_id).info.status == "RUNNING"


def test_a_parent_run_missing_from_the_store_warns_and_starts_a_new_one(mlflow_db):
    client, exp = _client(mlflow_db)
    study = _study("0123456789abcdef0123456789abcdef")
    with pytest.warns(RuntimeWarning, match=r"tune: study 's' records MLflow parent run 0123456789abcdef0123456789"
                                            r"abcdef .*which this tracking store does not hold \(Run with id=.* not "
                                            r"found\); starting a new parent run here"):
        run_id, created = _parent(client, study, exp)
    assert created and run_id != "0123456789abcdef0123456789abcdef"
    assert study.user_attrs[_PARENT_ATTR] == run_id


def test_a_deleted_parent_run_warns_how_to_restore_it(mlflow_db):
    client, exp = _client(mlflow_db)
    old = client.create_run(exp).info.run_id
    client.delete_run(old)
    with pytest.warns(RuntimeWarning, match=rf"parent run {old} .*which was deleted; starting a new parent run\. "
                                            rf"Restore it \(mlflow runs restore --run-id {old}\)"):
        run_id, created = _parent(client, _study(old), exp)
    assert created and run_id != old


def test_an_unreachable_tracking_store_is_an_error_not_a_second_parent(offline):
    client = mlflow.MlflowClient(tracking_uri=offline)
    study = _study("0123456789abcdef0123456789abcdef")
    with pytest.raises(ConfigError, match=r"tune: study 's' records MLflow parent run 0123456789abcdef0123456789abcdef"
                                          r" .*but it cannot be read \(API request to .*\); check that the tracking "
                                          r"store .* is reachable and rerun"):
        _parent(client, study, "0")
    assert study.user_attrs[_PARENT_ATTR] == "0123456789abcdef0123456789abcdef"


def test_closing_a_stale_trials_runs_warns_when_mlflow_refuses(offline, tracking):
    tracking(offline)
    with pytest.warns(RuntimeWarning, match=r"tune: could not mark the MLflow runs of stale trial run abc as FAILED "
                                            r"\(API request to .*\); the trial is retried anyway"):
        _close_stale_runs("abc")


def test_closing_a_stale_trials_runs_marks_them_failed(mlflow_db, tracking):
    client, exp = _client(mlflow_db)
    tracking(mlflow_db)
    trial = client.create_run(exp).info.run_id
    fold = client.create_run(exp, tags={"mlflow.parentRunId": trial}).info.run_id
    _close_stale_runs(trial)
    for run_id in (trial, fold):
        run = client.get_run(run_id)
        assert run.info.status == "FAILED" and run.data.tags["skysieve.failed_by"] == "heartbeat (worker gone)"
