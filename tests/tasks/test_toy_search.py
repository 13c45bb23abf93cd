"""A search is one folder: a toy search defined in one test module runs the whole engine.

``tests/tasks/blobs.py`` (Gaussian blobs against noise) is registered the way
an outside package would add one — ``$SKYSIEVE_TASKS`` names it — and goes
simulate → cutouts → validate → tune → train → evaluate → register → promote
→ catalog through the real engine (Optuna, Keras, MLflow on SQLite), with no
engine file naming it.
"""

import json
import subprocess
import sys

import mlflow
import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from typer.testing import CliRunner

from skysieve.tasks import TASK_TAG, TASKS_ENV, get_search, reset_searches, searches
from tests.conftest import REPO
from tests.tasks.blobs import SimulateBlobsParams, _blob

runner = CliRunner()


@pytest.fixture
def blobs(monkeypatch):
    """The toy search registered through the environment, as a separate package would be."""
    monkeypatch.setenv(TASKS_ENV, "tests.tasks.blobs:search")
    reset_searches()
    yield get_search("blobs")
    monkeypatch.delenv(TASKS_ENV)
    reset_searches()


@pytest.fixture
def workdir(tmp_path, monkeypatch, mlflow_db):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)
    monkeypatch.delenv("SKYSIEVE_OPTUNA_STORAGE", raising=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"tune_blobs": {"storage": "sqlite:///optuna.db"}}))
    previous = mlflow.get_tracking_uri()
    yield tmp_path
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def invoke(app, *args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_toy_search_is_found_and_adds_its_sections_and_commands(blobs):
    from skysieve.cli import build_app
    from skysieve.config import params_model

    assert {"sz", "lens", "blobs"} <= set(searches())  # and any other installed search
    fields = params_model().model_fields
    assert {"simulate_blobs", "cutouts_blobs", "validate_blobs", "tune_blobs", "train_blobs",
            "register_blobs"} <= set(fields)
    assert params_model()().train_blobs.k_folds == 2  # the search's defaults, not TrainParams'
    assert params_model().model_validate({"train_blobs": {"epochs": 5}}).train_blobs.k_folds == 2
    out = runner.invoke(build_app(), ["simulate", "--help"]).output
    assert "blobs" in out and "lens" in out and "sz" in out
    out = runner.invoke(build_app(), ["catalog", "--help"]).output
    assert "--image" in out and "--maps" in out and "--cutouts" in out


@pytest.mark.slow
def test_toy_search_runs_simulate_to_catalog_through_the_real_engine(blobs, workdir):
    from skysieve.cli import build_app

    app = build_app()
    invoke(app, "simulate", "blobs", "--out", "sim")
    invoke(app, "cutouts", "blobs", "--sim", "sim", "--out", "cutouts")
    invoke(app, "validate", "blobs", "--data", "cutouts", "--report", "validation.json")
    assert json.loads((workdir / "validation.json").read_text())["success"] is True
    invoke(app, "tune", "blobs", "--data", "cutouts", "--out", "best.json", "--train-out", "cnn")
    invoke(app, "train", "blobs", "--data", "cutouts", "--best-params", "best.json", "--out", "cnn")
    out = invoke(app, "evaluate", "blobs", "--data", "cutouts", "--model", "cnn", "--state", "state.json")
    state = json.loads((workdir / "state.json").read_text())
    # 5σ blobs are easy: the engine's CNN must have learnt them
    assert state["test_metrics"]["cnn"]["roc_auc"] > 0.9, out
    invoke(app, "register", "blobs", "--model", "cnn", "--state", "state.json", "--data", "cutouts")

    client = mlflow.MlflowClient()
    mv = client.get_model_version_by_alias("toy-blobs-cnn", "candidate")
    assert mv.tags[TASK_TAG] == "blobs"
    run = client.get_run(mv.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "blobs"  # the search's own experiment
    assert not any(str(workdir) in v for v in mv.tags.values())  # no local path in the registry

    invoke(app, "promote", "toy-blobs-cnn")
    # a 64×64 image with two blobs at known places, tiled by the engine
    rng = np.random.default_rng(4)
    image = rng.normal(0.0, 1.0, (64, 64)).astype(np.float32)
    blob = 5.0 * _blob(16, SimulateBlobsParams().sigma_px)
    for y, x in ((8, 8), (40, 32)):
        image[y:y + 16, x:x + 16] += blob
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval, wcs.wcs.crpix, wcs.wcs.cdelt = [150.0, 2.0], [32.5, 32.5], [-1 / 3600, 1 / 3600]
    fits.PrimaryHDU(image, header=wcs.to_header()).writeto(workdir / "field.fits")
    out = invoke(app, "catalog", "--model", "models:/toy-blobs-cnn@champion", "--image", "field.fits",
                 "--out", "cat.fits", "--no-progress")
    cat = Table.read(workdir / "cat.fits")
    assert len(cat) == 49 and cat.meta["MODEL"] == "toy-blobs-cnn"
    best = cat[np.argsort(cat["score"])[::-1][:2]]
    found = WCS(wcs.to_header()).wcs_world2pix(best["ra"], best["dec"], 0)
    assert sorted(zip(np.round(found[1] - 7.5), np.round(found[0] - 7.5))) == [(8.0, 8.0), (40.0, 32.0)]

    # with a progress bar, the TensorFlow start-up is announced before the wait (no message without one)
    assert "loading model" not in out
    out = invoke(app, "catalog", "--model", "models:/toy-blobs-cnn@champion", "--image", "field.fits",
                 "--out", "cat2.fits", "--progress")
    assert "loading model 'toy-blobs-cnn' v1" in out and "TensorFlow start-up" in out

    # another search's option is refused, naming the model's own inputs
    result = runner.invoke(app, ["catalog", "--model", "models:/toy-blobs-cnn@champion", "--maps", "field.fits",
                                 "--out", "bad.fits"])
    assert result.exit_code == 2 and "not an input of model 'toy-blobs-cnn' v1" in result.output
    assert "give --image" in result.output and not (workdir / "bad.fits").exists()


def test_no_engine_module_names_a_search():
    """Outside tasks/, no source file holds a search's name as a string literal."""
    import ast

    names = set(searches()) | {"sz", "lens", "members", "morphology", "detect", "blobs"}
    # "detect" is also the old name of the matched filter's source-finding mode (`mf_sz.sources: find`), still
    # accepted with a warning by its config model; it names no search there, and is allowed in that file only
    allowed = {("src/skysieve/config/_mf.py", "detect")}
    offenders = []
    for path in (REPO / "src" / "skysieve").rglob("*.py"):
        if "tasks" in path.relative_to(REPO / "src" / "skysieve").parts[:1] and path.parent.name != "tasks":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
                    and (str(path.relative_to(REPO)), node.value) not in allowed):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert not offenders, offenders


def test_the_engine_imports_no_search():
    """Importing every engine subpackage loads no tasks/<name> module (in a fresh interpreter)."""
    code = ("import importlib, sys\n"
            "for m in ('config', 'data', 'nets', 'train', 'tune', 'evaluate', 'ensemble', 'registry', 'catalog', "
            "'mf', 'sim', 'tasks'):\n"
            "    importlib.import_module('skysieve.' + m)\n"
            "print(sorted(m for m in sys.modules if m.startswith('skysieve.tasks.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "['skysieve.tasks._contract', 'skysieve.tasks._registry']", out.stderr
