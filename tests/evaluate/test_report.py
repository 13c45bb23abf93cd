"""The reporting edge: PNGs, metrics.json, dvc-plots CSVs, and logging to a real MLflow store."""

import csv
import json

import mlflow
import numpy as np
import pytest

from skysieve.errors import RegistryError
from skysieve.evaluate import evaluate_decisions, evaluate_scores, log_report_to_mlflow, write_evaluation_report
from skysieve.evaluate.report import flatten_metrics, write_csv, write_metrics_json

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(0)

    def split(n):
        y = (rng.random(n) < 0.05).astype(int)
        return y, rng.normal(2 * y, 1), np.clip(rng.normal(0.2 + 0.5 * y, 0.2), 0, 1)

    (yv, mv, cv), (yt, mt, ct) = split(3000), split(3000)
    truth = {"mvir": np.where(yt == 1, rng.uniform(1e14, 9e14, yt.size), np.nan),
             "z": np.where(yt == 1, rng.uniform(0.1, 2, yt.size), np.nan),
             "offset_arcmin": rng.uniform(0, 4, yt.size)}  # fmt: skip
    return {
        "mf": evaluate_scores(yv, mv, yt, mt, method="mf", truth=truth),
        "cnn": evaluate_scores(yv, cv, yt, ct, method="cnn", truth=truth),
        "and": evaluate_decisions(yv, (mv > 1) & (cv > 0.4), yt, (mt > 1) & (ct > 0.4), method="and",
                                  thresholds={"and.mf": 1.0, "and.cnn": 0.4}, truth=truth),  # fmt: skip
    }


def test_report_writes_pngs_metrics_json_and_csvs(results, tmp_path):
    folds = [{"f1": 0.6, "roc_auc": 0.97}, {"f1": 0.64, "roc_auc": 0.98}, {"f1": 0.58, "roc_auc": 0.96}]
    files = write_evaluation_report(results, tmp_path / "eval", fold_metrics=folds, table_markdown="| a |\n",
                                    max_curve_points=50)  # fmt: skip
    expected_pngs = {"roc", "pr", "f1_threshold", "confusion", "completeness_vs_mass", "completeness_vs_redshift",
                     "score_vs_offset", "folds"}  # fmt: skip
    assert set(files.pngs) == expected_pngs
    for path in files.pngs.values():
        assert path.read_bytes()[:8] == PNG_MAGIC

    metrics = json.loads(files.metrics_json.read_text())  # strict JSON: no NaN
    assert set(metrics) == {"mf", "cnn", "and", "folds"}
    assert metrics["and"]["test"]["roc_auc"] is None
    assert metrics["cnn"]["test"]["f1"] == pytest.approx(results["cnn"].test.f1)
    assert metrics["folds"]["f1"]["mean"] == pytest.approx(np.mean([0.6, 0.64, 0.58]))
    assert metrics["folds"]["f1"]["std"] == pytest.approx(np.std([0.6, 0.64, 0.58], ddof=1))

    with (tmp_path / "eval/plots/roc/cnn.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["fpr", "tpr"] and 2 <= len(rows) <= 50
    assert float(rows[0]["fpr"]) == 0.0 and float(rows[-1]["tpr"]) == 1.0  # endpoints kept when thinning
    with (tmp_path / "eval/plots/completeness_vs_mass/and.csv").open() as fh:
        assert next(csv.reader(fh)) == ["bin_lo", "bin_hi", "center", "value", "value_lo", "value_hi", "count"]
    assert (tmp_path / "eval/plots/f1_threshold/mf.csv").is_file()
    assert not (tmp_path / "eval/plots/roc/and.csv").exists()  # no score, no ROC
    assert files.markdown.read_text() == "| a |\n"


def test_json_and_csv_writers_handle_nan_and_numpy(tmp_path):
    path = write_metrics_json({"a": np.float32(0.5), "b": float("nan"), "c": [np.int64(3)]}, tmp_path / "m.json")
    assert json.loads(path.read_text()) == {"a": 0.5, "b": None, "c": [3]}
    write_csv(tmp_path / "c.csv", {"x": [1.0, np.nan], "n": np.array([1, 2])})
    assert (tmp_path / "c.csv").read_text().splitlines() == ["x,n", "1,1", ",2"]
    with pytest.raises(ValueError, match="differ in length"):
        write_csv(tmp_path / "d.csv", {"x": [1.0], "y": [1.0, 2.0]})
    assert flatten_metrics({"t": {"cnn": {"f1": 0.5, "auc": None, "n": 3}}}) == {"t.cnn.f1": 0.5, "t.cnn.n": 3.0}


def test_log_report_to_a_real_mlflow_run(results, tmp_path, mlflow_db):
    files = write_evaluation_report({"cnn": results["cnn"]}, tmp_path / "eval")
    mlflow.set_tracking_uri(mlflow_db)  # put back by the autouse fixture of conftest.py
    exp = mlflow.create_experiment("eval", artifact_location=(tmp_path / "artifacts").as_uri())
    with pytest.raises(RegistryError, match="no active MLflow run"):
        log_report_to_mlflow(files)
    with mlflow.start_run(experiment_id=exp) as run:
        run_id = log_report_to_mlflow(files)
    assert run_id == run.info.run_id
    logged = mlflow.get_run(run_id).data.metrics
    assert logged["cnn.test.f1"] == pytest.approx(results["cnn"].test.f1)
    assert logged["cnn.thresholds.cnn"] == pytest.approx(results["cnn"].thresholds["cnn"])
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "evaluation")}
    assert {"evaluation/metrics.json", "evaluation/roc.png", "evaluation/plots"} <= names
