"""Provenance and MLflow set-up (skysieve._tracking) and ``run_train``'s run and files."""

import json

import pytest

from skysieve._tracking import configure_mlflow, data_hash, flatten_params, provenance


def test_data_hash_prefers_dvc_lock_then_computes(tmp_path):
    d = tmp_path / "data" / "cutouts"
    d.mkdir(parents=True)
    (d / "a.txt").write_text("hello\n")
    (d / "sub").mkdir()
    (d / "sub" / "b.txt").write_text("world\n")
    # The same directory hash `dvc add` records for these two files.
    assert data_hash(d, root=tmp_path) == ("5369cb520f35f5d77e793cf181884a27.dir", "computed")
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  cutouts_sz:\n    cmd: x\n    outs:\n    - path: data/cutouts\n"
        "      hash: md5\n      md5: 0123abcd.dir\n")
    assert data_hash(d, root=tmp_path) == ("0123abcd.dir", "dvc.lock")


def test_provenance_names_commit_data_and_versions(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    tags = provenance([f], root=tmp_path)
    assert tags["data.x.bin.md5"] == "900150983cd24fb0d6963f7d28e17f72"
    assert tags["data.x.bin.md5_source"] == "computed"
    assert {"git.commit", "git.dirty", "version.keras", "version.mlflow", "version.python"} <= set(tags)


def test_flatten_params_uses_dotted_keys(tiny_recipe):
    flat = flatten_params(tiny_recipe)
    assert flat["optimizer.learning_rate"] == "0.003"
    assert flat["net.name"] == "resnet_small"
    assert json.loads(flat["imbalance.curriculum_ratios"]) == [1.0, 2.0, 5.0, 10.0, 20.0]


def test_configure_mlflow_defaults_to_sqlite_and_honours_the_env(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert configure_mlflow(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/other.db")
    assert configure_mlflow(tmp_path).endswith("other.db")


@pytest.mark.slow
def test_run_train_tracks_folds_and_writes_the_model(tiny_cutouts, tiny_recipe, tmp_path, monkeypatch, mlflow_db):
    import mlflow
    from astropy.table import Table

    from skysieve.train import load_trained, run_train

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = tiny_recipe.model_copy(update={"epochs": 1})
    run = run_train(cfg, data_dir=tiny_cutouts.tensor_path.parent, out_dir=tmp_path / "models" / "sz" / "cnn",
                    task="sz", overrides={"optimizer.learning_rate": 0.003}, root=tmp_path)
    client = mlflow.MlflowClient()
    parent = client.get_run(run.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["skysieve.run_kind"] == "train"
    assert parent.data.params["tuned.optimizer.learning_rate"] == "0.003"
    assert {"pr_auc_mean", "pr_auc_std", "val_log_loss", "platt_a"} <= set(parent.data.metrics)
    assert any(k.startswith("data.") and k.endswith(".md5") for k in parent.data.tags)
    (read,) = parent.inputs.dataset_inputs  # the Dataset column of the UI
    assert read.dataset.digest == parent.data.tags[f"data.{read.dataset.name}.md5"]
    exp = parent.info.experiment_id
    assert client.get_experiment(exp).tags["mlflow.experimentKind"] == "custom_model_development"
    assert client.get_experiment(exp).artifact_location == (tmp_path / "mlartifacts").resolve().as_uri()
    folds = client.search_runs([exp], f"tags.mlflow.parentRunId = '{run.run_id}'")
    assert sorted(r.info.run_name for r in folds) == ["fold-0", "fold-1"]
    history = client.get_metric_history(folds[0].info.run_id, "val_pr_auc")
    assert [m.step for m in history] == [0]
    model = load_trained(tmp_path / "models" / "sz" / "cnn")
    assert model.metadata["mlflow_run_id"] == run.run_id
    oof = Table.read(tmp_path / "models" / "sz" / "cnn" / "oof.fits")
    assert len(oof) == tiny_cutouts.indices("train").size and set(oof["fold"]) == {0, 1}
    artifacts = {a.path for a in client.list_artifacts(run.run_id, "model")}
    assert "model/ensemble.json" in artifacts
