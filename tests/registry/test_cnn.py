"""The trained CNN as an MLflow pyfunc: logged from ``models/<task>/cnn``, loaded back, same probabilities."""

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from mlflow.exceptions import MlflowException

from skysieve.errors import DataError
from skysieve.registry import CnnModel, log_cnn_model, read_cnn_manifest, register_model_version
from tests.registry.conftest import provenance_for


def test_logged_cnn_predicts_what_the_fold_ensemble_predicts(mlflow_store, trained_dir):
    from skysieve.train import load_trained

    uri = log_cnn_model(trained_dir)
    mv = register_model_version(uri, "sz-cnn", task="sz", test_metrics={"cnn": {"f1": 0.5}}, thresholds={"cnn": 0.5},
                                provenance=provenance_for(), primary_method="cnn")
    model = mlflow.pyfunc.load_model(f"models:/sz-cnn/{mv.version}")
    x = np.random.default_rng(0).normal(0, 20, (37, 16, 16, 3)).astype(np.float32)
    expected = load_trained(trained_dir).predict_proba(x)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-7)
    inner = model.unwrap_python_model()
    assert isinstance(inner, CnnModel)
    assert inner.channels == ("90GHz", "148GHz", "219GHz") and inner.input_shape == (16, 16, 3)
    meta = model.metadata.metadata
    assert meta["channels"] == ["90GHz", "148GHz", "219GHz"] and meta["input_shape"] == [16, 16, 3]
    assert meta["cutout_size_px"] == [16, 16] and meta["n_folds"] == 2 and meta["calibration"] == "platt"
    inner.batch_size = 10  # scored in batches: same answer
    np.testing.assert_allclose(inner.predict_proba(x), expected, rtol=1e-5, atol=1e-7)


def test_artifacts_are_the_fold_models_calibration_and_manifest(mlflow_store, trained_dir):
    uri = log_cnn_model(trained_dir, name="cnn_model")
    local = Path(mlflow.artifacts.download_artifacts(uri))
    assert sorted(p.name for p in (local / "artifacts" / "cnn").iterdir()) == [
        "calibration.json", "ensemble.json", "fold_0.keras", "fold_1.keras"]
    # Logged under the name asked for (MLflow 3 keeps the name on the logged model, not in MLmodel).
    model_id = uri.removeprefix("models:/")
    assert mlflow.get_logged_model(model_id).name == "cnn_model"
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert mlmodel["model_id"] == model_id
    # A model from code (_cnn_code.py), loaded by MLflow's code-model loader: nothing pickled.
    pyfunc = mlmodel["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert Path(pyfunc["model_code_path"]).name == "_cnn_code.py"
    assert not list(local.glob("*.pkl"))


def test_wrong_cutout_shape_is_refused(mlflow_store, trained_dir):
    model = mlflow.pyfunc.load_model(log_cnn_model(trained_dir))
    with pytest.raises(MlflowException,
                       match=r"Shape of input \(2, 8, 8, 3\) does not match expected shape \(-1, 16, 16, 3\)"):
        model.predict(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(DataError, match=r"expected \(n, 16, 16, 3\)"):
        model.unwrap_python_model().predict_proba(np.zeros((2, 8, 8, 3), np.float32))


def test_incomplete_model_directory_is_refused_before_logging(tmp_path, trained_dir):
    with pytest.raises(DataError, match="ensemble.json: not found; run `skysieve train`"):
        read_cnn_manifest(tmp_path)
    broken = tmp_path / "cnn"
    shutil.copytree(trained_dir, broken)
    (broken / "fold_1.keras").unlink()
    with pytest.raises(DataError, match=r"model files \['fold_1.keras'\] named in ensemble.json are missing"):
        log_cnn_model(broken)
    manifest = json.loads((trained_dir / "ensemble.json").read_text())
    manifest.pop("channels")
    shutil.copy(trained_dir / "fold_1.keras", broken / "fold_1.keras")
    (broken / "ensemble.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"no \['channels'\] in the manifest"):
        read_cnn_manifest(broken)
