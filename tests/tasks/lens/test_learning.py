"""The lens learning stages end to end on a tiny simulation: tune, train, evaluate, register (MLflow on SQLite)."""

import csv
import json

import pytest
import yaml
from typer.testing import CliRunner

from skysieve.cli import build_app

runner = CliRunner()

TINY = {
    "simulate_lens": {"n_cutouts": 48, "size_px": 24, "supersampling": 2, "seed": 8},
    "cutouts_lens": {"split": {"val_frac": 0.25, "test_frac": 0.25}},
    # a partial section keeps the lens defaults (sc_vgg, grouped stratified folds) for the keys not given
    "train_lens": {"net": {"filters": 2, "max_filters": 4, "blocks": 2, "dense_units": 4}, "epochs": 1, "k_folds": 2,
                   "batch_size": 8, "eval_batch_size": 32, "norm_sample": 16},
    "tune_lens": {"n_trials": 1, "startup_trials": 1, "storage": "sqlite:///optuna.db",
                  "search_space": {"optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 3e-3}}},
    "register_lens": {"model_name": "test-lens-cnn"},
}


def invoke(app, *args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def workdir(tmp_path, monkeypatch, mlflow_db):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)  # <tmp_path>/mlflow.db, a copy of the migrated template
    monkeypatch.delenv("SKYSIEVE_OPTUNA_STORAGE", raising=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(TINY))
    return tmp_path  # the autouse fixture of tests/conftest.py ends runs and puts MLflow back afterwards


@pytest.mark.slow
def test_tune_train_evaluate_register_lens(workdir):
    app = build_app()
    invoke(app, "simulate", "lens", "--out", "sim", "--workers", 1)
    invoke(app, "cutouts", "lens", "--sim", "sim", "--out", "cutouts")
    invoke(app, "tune", "lens", "--data", "cutouts", "--out", "models/best_params.json")
    assert "optimizer.learning_rate" in json.loads((workdir / "models/best_params.json").read_text())["params"]
    invoke(app, "train", "lens", "--data", "cutouts", "--best-params", "models/best_params.json", "--out", "models/cnn")
    manifest = json.loads((workdir / "models/cnn/ensemble.json").read_text())
    assert manifest["net"] == "vgg" and len(manifest["models"]) == 2
    assert (workdir / "models/cnn/oof.fits").is_file()

    out = invoke(app, "evaluate", "lens", "--data", "cutouts", "--model", "models/cnn", "--scores", "scores.fits",
                 "--state", "models/evaluation.json", "--out", "reports")
    assert "Table A.1" in out and "Table A.5" in out
    report = workdir / "reports"
    table = (report / "table.md").read_text()
    for title in ("Table A.1", "Table A.2 — spread over the 2 folds", "Table A.4", "Table A.5",
                  "Purity = completeness"):
        assert title in table
    metrics = json.loads((report / "metrics.json").read_text())
    assert {"cnn", "folds", "thresholds", "crossing", "test", "cv", "fold_quartiles"} <= set(metrics)
    assert metrics["thresholds"]["fixed"] == 0.5 and set(metrics["test"]) == {"fixed", "crossing", "f1", "balanced"}
    assert len(metrics["folds"]["roc_auc"]["values"]) == 2
    for name in ("a1_class_metrics", "a2_fold_spread", "a4_false_positives_test", "a5_false_negatives_cv"):
        with (report / "tables" / f"{name}.csv").open() as fh:
            assert len(list(csv.reader(fh))) >= 3
    for png in ("folds", "roc", "purity_completeness", "false_negatives_test", "false_positives_cv",
                "gallery_false_positives_test", "gallery_false_negatives_test"):
        assert (report / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    state = json.loads((workdir / "models/evaluation.json").read_text())
    assert state["thresholds"]["cnn"] == state["thresholds"]["cnn.balanced"]  # the default operating point
    assert state["thresholds"]["cnn.fixed"] == 0.5
    n_val = len(state["references"]["cnn_prob"])
    assert n_val > 0

    invoke(app, "register", "lens", "--model", "models/cnn", "--state", "models/evaluation.json",
           "--data", "cutouts", "--out", "models/registered.json")
    record = json.loads((workdir / "models/registered.json").read_text())["cnn"]
    assert record["name"] == "test-lens-cnn" and record["uri"] == "models:/test-lens-cnn@candidate"

    import mlflow

    from skysieve.registry import get_model_version, load_reference_distributions, read_version_documents

    mv = get_model_version("test-lens-cnn", alias="candidate")
    tags = mv.tags
    assert float(tags["threshold.cnn"]) == pytest.approx(state["thresholds"]["cnn.balanced"])
    assert "threshold.cnn.crossing" in tags and "threshold.cnn.balanced" in tags
    assert float(tags["test_f1"]) == pytest.approx(state["test_metrics"]["cnn"]["f1"])
    run = mlflow.get_run(tags["run_id"])  # every test figure is an MLflow metric of the registering run
    assert "test.cnn.non_lens_f1" in run.data.metrics and "test.cnn.cv_roc_auc_mean" in run.data.metrics
    assert tags["data_hash"].endswith(".dir") and tags["git_commit"] and tags["operating_point"] == "balanced"
    params = read_version_documents("test-lens-cnn", mv.version)["params"]
    assert params["train_lens"]["net"]["name"] == "vgg" and "optimizer.learning_rate" in params["tuned"]
    assert len(load_reference_distributions("test-lens-cnn", alias="candidate")["cnn_prob"]) == n_val


def test_evaluate_and_register_lens_name_the_missing_input(workdir):
    app = build_app()
    (workdir / "cutouts").mkdir()
    result = runner.invoke(app, ["evaluate", "lens", "--data", "cutouts", "--model", "none"])
    assert result.exit_code == 2 and "run `skysieve cutouts`" in result.output
    result = runner.invoke(app, ["register", "lens", "--state", "nope.json"])
    assert result.exit_code == 2 and "run `skysieve evaluate lens --state nope.json` first" in result.output
    assert not (workdir / "models").exists()
