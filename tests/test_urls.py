"""No password reaches a message, a run param, a params artifact or a registry tag (``skysieve._urls``)."""

import json

import mlflow
import pytest

from skysieve._urls import redact, safe_text, safe_url

SECRET = "s3cr3t-PW"


@pytest.mark.parametrize("url, expect", [
    (f"postgresql://optuna:{SECRET}@db-host:5432/optuna", "postgresql://optuna:***@db-host:5432/optuna"),
    (f"postgresql+psycopg://u:{SECRET}@h/db?sslmode=require", "postgresql+psycopg://u:***@h/db?sslmode=require"),
    (f"http://mlflow:{SECRET}@tracking:5000", "http://mlflow:***@tracking:5000"),
    # not URLs SQLAlchemy parses: masked by pattern, never returned as given
    (f"weird+scheme://me:{SECRET}@host/x y", "weird+scheme://me:***@host/x y"),
    (f"redis://:{SECRET}@cache:6379/0", "redis://:***@cache:6379/0"),
    (f"postgresql://h/db?user=u&password={SECRET}", "postgresql://h/db?password=***&user=u"),  # SQLAlchemy's order
    ("sqlite:///optuna.db", "sqlite:///optuna.db"),
    ("postgresql://optuna@db-host/optuna", "postgresql://optuna@db-host/optuna"),
])
def test_safe_url_masks_every_password(url, expect):
    assert safe_url(url) == expect
    assert SECRET not in safe_url(url)


def test_redact_walks_params():
    params = {"tune_sz": {"storage": f"postgresql://o:{SECRET}@h/db", "n_trials": 4},
              "bands": [f"http://a:{SECRET}@b", "90GHz"], "note": "a:b@c is not a URL"}
    out = redact(params)
    assert SECRET not in json.dumps(out)
    assert out["tune_sz"]["n_trials"] == 4 and out["bands"][1] == "90GHz" and out["note"] == "a:b@c is not a URL"


def test_no_password_in_run_params_artifact_or_registry_tag(tmp_path, mlflow_db):
    from skysieve._tracking import log_provenance
    from skysieve.registry._registry import _params_dict

    uri = mlflow_db
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    exp = client.create_experiment("urls", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(exp)
    params = {"tune_sz": {"storage": f"postgresql://optuna:{SECRET}@db/optuna", "n_trials": 3}}
    log_provenance(run.info.run_id, provenance={"git.commit": "x"}, params=params, client=client)
    logged = client.get_run(run.info.run_id).data.params
    assert logged["tune_sz.storage"] == "postgresql://optuna:***@db/optuna"
    artifact = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/params.json")
    assert SECRET not in json.dumps(artifact) and SECRET not in json.dumps(logged)
    assert SECRET not in json.dumps(_params_dict(params))  # what becomes a registered version's `params` tag


def test_safe_text_masks_urls_inside_a_message():
    message = (f"cannot connect: could not parse 'postgres ql://optuna:{SECRET}@db/optuna' "
               f"(also tried http://u:{SECRET}@h:5000/api and sqlite:///file:x.db?uri=true&password={SECRET})")
    masked = safe_text(message)
    assert SECRET not in masked
    # A query value is masked up to the next & ; # or space (here the closing parenthesis goes with it).
    assert masked == ("cannot connect: could not parse 'postgres ql://optuna:***@db/optuna' "
                      "(also tried http://u:***@h:5000/api and sqlite:///file:x.db?uri=true&password=***")
