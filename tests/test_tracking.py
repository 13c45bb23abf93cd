"""The experiments and runs skysieve tracks, as the MLflow UI shows them: kind, dataset inputs."""

import mlflow

from skysieve._tracking import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING_KIND,
    data_inputs,
    experiment_id,
    log_data_inputs,
    provenance,
)
from tests.registry.conftest import mlflow_store  # noqa: F401 - fixtures


def test_experiments_are_model_training_ones_new_or_reused(mlflow_store, tmp_path):  # noqa: F811
    client = mlflow.MlflowClient()
    new = experiment_id("sz", root=tmp_path)
    assert client.get_experiment(new).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING_KIND == "custom_model_development"
    old = client.create_experiment("lens")  # made before skysieve tagged experiments
    assert experiment_id("lens", root=tmp_path) == old
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING_KIND
    chosen = client.create_experiment("mine", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    experiment_id("mine", root=tmp_path)
    assert client.get_experiment(chosen).tags[EXPERIMENT_KIND_TAG] == "genai_development"  # a person's choice


def test_dvc_inputs_become_dataset_inputs_with_their_md5(mlflow_store, tmp_path):  # noqa: F811
    (tmp_path / "cutouts").mkdir()
    (tmp_path / "cutouts" / "a.bin").write_bytes(b"abc")
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  cutouts:\n    outs:\n"
                                       "    - path: cutouts\n      md5: 0123456789abcdef0123456789abcdef.dir\n")
    prov = provenance([tmp_path / "cutouts", tmp_path / "missing.h5"], root=tmp_path)
    assert data_inputs(prov) == [{"path": "cutouts", "md5": "0123456789abcdef0123456789abcdef.dir",
                                  "md5_source": "dvc.lock"}]  # the missing file has no hash: left out
    with mlflow.start_run() as run:
        assert log_data_inputs(run.info.run_id, prov) == 1
        log_data_inputs(run.info.run_id, prov)  # a resumed run logs them again: nothing added
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0].dataset
    assert (ds.name, ds.digest, ds.source_type) == ("cutouts", "0123456789abcdef0123456789abcdef.dir", "local")
    assert {t.key: t.value for t in inputs[0].tags} == {"mlflow.data.context": "training"}
