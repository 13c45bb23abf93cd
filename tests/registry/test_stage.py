"""The register stages as library calls: the search's tag and experiment, and no local path in the registry."""

import mlflow
import numpy as np
import pytest

from skysieve.errors import RegistryError
from skysieve.registry import (
    load_reference_distributions,
    predictions_document,
    register_cnn,
    register_model_version,
    register_pipeline,
)
from tests.registry.conftest import provenance_for


def _no_local_paths(tags: dict, root) -> list[str]:
    return [f"{k}={v}" for k, v in tags.items() if str(root) in v or v.startswith(("file:", "/"))]


def test_register_cnn_tags_the_search_and_logs_into_its_experiment(mlflow_store, trained_dir, tmp_path):
    state = {"thresholds": {"cnn": 0.4}, "references": {"cnn_prob": [0.1, 0.2, 0.9]},
             "test_metrics": {"cnn": {"f1": 0.7}}}
    record = register_cnn(task="lens", models_dir=trained_dir, name="t-lens", state=state,
                          provenance=provenance_for(), params={"a": 1})
    client = mlflow.MlflowClient()
    mv = client.get_model_version("t-lens", record["version"])
    assert mv.tags["skysieve.task"] == "lens"
    assert client.get_experiment(client.get_run(record["run_id"]).info.experiment_id).name == "lens"
    assert mv.tags["reference_scores"] == f"runs:/{record['run_id']}/references/references.npz"
    assert _no_local_paths(dict(mv.tags), tmp_path) == []
    refs = load_reference_distributions("t-lens", version=record["version"])
    np.testing.assert_allclose(refs["cnn_prob"].values, [0.1, 0.2, 0.9])


def test_register_pipeline_puts_both_versions_in_the_search_experiment(mlflow_store, trained_dir, fitted,
                                                                        tmp_path):
    ens, _, test, metrics = fitted
    decisions = ens.decide(test["cnn_prob"], test["mf_snr"])
    state = {"thresholds": ens.thresholds(), "references": {k: v.tolist() for k, v in ens.references().items()},
             "test_metrics": metrics,
             "test_predictions": predictions_document(np.arange(len(test)), test["label"], decisions)}
    record = register_pipeline(task="sz", models_dir=trained_dir, ensemble_state=state, provenance=provenance_for(),
                               params={"x": 1}, cnn_name="t-cnn", ensemble_name="t-ens",
                               primary_method="rank_product")
    client = mlflow.MlflowClient()
    default = client.get_experiment_by_name("Default")
    for kind in ("cnn", "ensemble"):
        mv = client.get_model_version(record[kind]["name"], record[kind]["version"])
        assert mv.tags["skysieve.task"] == "sz"
        exp = client.get_run(mv.run_id).info.experiment_id
        assert client.get_experiment(exp).name == "sz" and (default is None or exp != default.experiment_id)
        assert _no_local_paths(dict(mv.tags), tmp_path) == [], kind
        # both versions store the per-object test decisions and the F1 interval the promotion gate compares
        assert mv.tags["test_predictions"] == "stored" and float(mv.tags["test_f1_lo"]) < float(mv.tags["test_f1_hi"])
        assert mv.tags["test_n_pos"] == str(int(test["label"].sum()))
    rp = metrics["rank_product"]
    description = client.get_model_version("t-ens", record["ensemble"]["version"]).description
    assert f"{rp['f1']:.3f} ({rp['f1_lo']:.3f}–{rp['f1_hi']:.3f})" in description  # the F1 with its interval
    assert not (tmp_path / "mlruns").exists()


def test_a_version_without_a_task_is_refused(mlflow_store, trained_dir):
    from skysieve.registry import log_cnn_model

    with pytest.raises(RegistryError, match="register 't-x': no task given; pass the name of the search"):
        register_model_version(log_cnn_model(trained_dir), "t-x", task="", test_metrics={"cnn": {"f1": 0.5}},
                               thresholds={"cnn": 0.5}, provenance=provenance_for(), primary_method="cnn")
