"""``skysieve tune sz`` then ``skysieve train sz --best-params``: the DVC / MLproject path."""

import json

import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from skysieve.cli import build_app


@pytest.mark.slow
def test_tune_then_train_from_the_command_line(tiny_cutouts, tmp_path, monkeypatch, mlflow_db):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SKYSIEVE_OPTUNA_STORAGE", raising=False)
    params = {
        "train_sz": {"net": {"name": "vgg", "filters": 4, "blocks": 2, "convs_per_block": 1, "dense_units": 8},
                     "batch_size": 32, "epochs": 1, "splitter": "holdout", "norm_sample": 32},
        "tune_sz": {"n_trials": 1, "startup_trials": 1,
                    "search_space": {"net.dense_units": {"type": "categorical", "choices": [8, 16]}}},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    data = str(tiny_cutouts.tensor_path.parent)
    runner = CliRunner()
    out = runner.invoke(build_app(), ["tune", "sz", "--data", data, "--out", "models/sz/best_params.json"])
    assert out.exit_code == 0, out.output
    best = json.loads((tmp_path / "models/sz/best_params.json").read_text())
    assert best["study_name"].startswith("sz-") and best["params"]["net.dense_units"] in (8, 16)
    assert (tmp_path / "optuna.db").is_file()
    # ./mlflow.db (mlflow_db put an empty store there) holds the study's parent run
    assert MlflowClient(mlflow_db).get_run(best["mlflow_parent_run_id"]).data.tags["skysieve.run_kind"] == "study"

    # The same search again reuses its finished study; --fresh searches anew under a new parent run.
    out = runner.invoke(build_app(), ["tune", "sz", "--data", data, "--out", "again.json"])
    again = json.loads((tmp_path / "again.json").read_text())
    assert out.exit_code == 0 and again["study_name"] == best["study_name"]
    assert again["mlflow_parent_run_id"] == best["mlflow_parent_run_id"] and again["n_complete"] == 1
    out = runner.invoke(build_app(), ["tune", "sz", "--data", data, "--out", "fresh.json", "--fresh"])
    fresh = json.loads((tmp_path / "fresh.json").read_text())
    assert out.exit_code == 0 and fresh["study_name"] == best["study_name"] and fresh["n_complete"] == 1
    assert fresh["mlflow_parent_run_id"] != best["mlflow_parent_run_id"]
    # Other train params: another study (not the best trial of one run on other settings).
    params["train_sz"]["batch_size"] = 16
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = runner.invoke(build_app(), ["tune", "sz", "--data", data, "--out", "other.json"])
    other = json.loads((tmp_path / "other.json").read_text())
    assert out.exit_code == 0 and other["study_name"] != best["study_name"] and other["n_complete"] == 1
    params["train_sz"]["batch_size"] = 32
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    # The last search's best trial left its finished fold models as the train checkpoint: train reloads them,
    # and they are the models a training from zero makes.
    assert other["handed_over"] == "models/sz/cnn.ckpt" and not (tmp_path / "models/sz/cnn.ckpt.trials").exists()
    params["train_sz"]["batch_size"] = 16
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = runner.invoke(build_app(), ["train", "sz", "--data", data, "--best-params", "other.json"])
    assert out.exit_code == 0, out.output
    assert "resumed from checkpoint: 1 epoch(s) restored" in out.output
    assert not (tmp_path / "models/sz/cnn.ckpt").exists()
    out = runner.invoke(build_app(), ["train", "sz", "--data", data, "--best-params", "other.json",
                                      "--out", "scratch", "--no-resume"])
    assert out.exit_code == 0 and "restored" not in out.output
    reloaded = json.loads((tmp_path / "models/sz/cnn/ensemble.json").read_text())["metrics"]
    retrained = json.loads((tmp_path / "scratch/ensemble.json").read_text())["metrics"]
    assert reloaded["val_pr_auc"] == retrained["val_pr_auc"] and reloaded["platt_a"] == retrained["platt_a"]
    params["train_sz"]["batch_size"] = 32
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    # Train with params no trial ran: the best trial's checkpoint does not fit and is discarded.
    out = runner.invoke(build_app(), ["tune", "sz", "--data", data, "--out", "models/sz/best_params.json",
                                      "--fresh"])
    assert out.exit_code == 0 and (tmp_path / "models/sz/cnn.ckpt").is_dir()
    best = json.loads((tmp_path / "models/sz/best_params.json").read_text())
    params["train_sz"]["epochs"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = runner.invoke(build_app(), ["train", "sz", "--data", data, "--best-params", "models/sz/best_params.json"])
    assert out.exit_code == 0, out.output
    assert "checkpoint not resumed" in out.output and "written for other params or data" in out.output
    manifest = json.loads((tmp_path / "models/sz/cnn/ensemble.json").read_text())
    assert manifest["net"] == "vgg" and manifest["tuned"] == best["params"]
    assert manifest["params"]["net"]["dense_units"] == best["params"]["net.dense_units"]

    out = runner.invoke(build_app(), ["train", "sz", "--data", data, "--best-params", "missing.json"])
    assert out.exit_code == 2 and "missing.json: not found; run `skysieve tune sz` first" in out.output
