"""The morphology search end to end on a tiny config through the real CLI, MLflow (SQLite) and Optuna.

simulate → validate → pretrain (registers the source model) → finetune (from its registered URI, Optuna
over frozen depth and lr ratio) → evaluate → register (lineage tags) → catalog; and the bad inputs the
issue names: a URI that does not resolve, a source whose input shape differs, stamps of the wrong band
or size, vote fractions that do not sum to one — each a clear error with nothing half-written.
"""

import json
import shutil
from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from astropy.table import Table
from typer.testing import CliRunner

from tests.conftest import isolated_global_state, new_mlflow_store
from tests.tasks.morphology.conftest import TINY

runner = CliRunner()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mlflow_template):
    """A working directory where the whole tiny pipeline ran once (module scope: the nets train once)."""
    from skysieve.cli import build_app
    from skysieve.tasks import TASKS_ENV, reset_searches, searches

    tmp = tmp_path_factory.mktemp("morphology")
    with isolated_global_state():  # MLflow's tracking URI, the CLI's environment, sys.path: put back after
        mp = pytest.MonkeyPatch()
        mp.chdir(tmp)
        mp.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(mlflow_template, tmp))  # a copy of the migrated store
        reset_searches()
        if "morphology" not in searches():
            mp.setenv(TASKS_ENV, "skysieve.tasks.morphology:search")
            reset_searches()
        (tmp / "params.yaml").write_text(yaml.safe_dump(TINY))
        app = build_app()
        outputs = {}
        for verb in ("simulate", "validate", "pretrain", "finetune", "evaluate", "register"):
            result = runner.invoke(app, [verb, "morphology"])
            assert result.exit_code == 0, f"{verb}: {result.output}"
            outputs[verb] = result.output
        yield tmp, app, outputs
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mp.undo()
    reset_searches()


def test_the_pipeline_registers_source_and_fine_tuned_models_with_lineage(run_dir):
    tmp, _, outputs = run_dir
    assert "validation passed" in outputs["validate"]
    client = mlflow.MlflowClient()
    source = client.get_model_version_by_alias("morphology-source", "candidate")
    tuned = client.get_model_version_by_alias("morphology-cnn", "candidate")
    assert source.tags["skysieve.task"] == tuned.tags["skysieve.task"] == "morphology"
    assert tuned.tags["transfer.source_name"] == "morphology-source"
    assert tuned.tags["transfer.source_version"] == str(source.version)
    assert tuned.tags["transfer.source_run_id"] == source.run_id
    # requirements pinned from the lock (not inferred by loading the model in another process)
    for version in (source, tuned):
        reqs = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{version.name}/{version.version}")).read_text()
        assert f"keras=={metadata.version('keras')}" in reqs.split() and "-c constraints.txt" in reqs
    best = json.loads((tmp / "models/morphology/finetuned/best_params.json").read_text())
    assert best["frozen_depth"] in (0, 8) and best["n_trials"] == 2
    assert best["temperature"] > 0 and {"val_rmse_raw", "val_ece_raw", "val_ece"} <= best.keys()
    ev = json.loads((tmp / "reports/morphology/evaluate/metrics.json").read_text())
    assert ev["rmse_lo"] <= ev["rmse"] <= ev["rmse_hi"]
    assert 0 <= ev["rmse"] <= 1 and ev["paper_rmse"] == 0.0991
    for png in ("recall.png", "thresholds.png", "reliability.png"):
        assert (tmp / "reports/morphology/evaluate" / png).stat().st_size > 1000


def test_the_catalog_has_one_row_per_galaxy_with_per_band_and_combined_probabilities(run_dir):
    tmp, app, _ = run_dir
    result = runner.invoke(app, ["catalog", "--model", "models:/morphology-cnn@candidate", "--stamps",
                                 "data/morphology/sim/target", "--out", "cat.fits"])
    assert result.exit_code == 0, result.output
    cat = Table.read(tmp / "cat.fits")
    assert len(cat) == TINY["simulate_morphology"]["target"]["n_galaxies"]
    bands = [b["name"] for b in TINY["simulate_morphology"]["target"]["bands"]]
    per_band = np.stack([[cat[f"{b}_P{c}"] for c in ("spheroid", "disk", "irregular", "point_source",
                                                      "unclassifiable")] for b in bands])  # (band, class, galaxy)
    assert np.allclose(per_band.sum(axis=1), 1.0, atol=1e-5)
    combined = np.stack([cat[f"P{c}"] for c in ("spheroid", "disk", "irregular", "point_source",
                                                "unclassifiable")])
    assert np.allclose(combined, per_band.mean(axis=0), atol=1e-6)
    assert cat.meta["MODEL"] == "morphology-cnn" and cat.meta["SRCMODEL"].startswith("models:/morphology-source")
    # the provenance every search's catalog carries (skysieve.catalog.model_header)
    assert cat.meta["TASK"] == "morphology" and cat.meta["RUNID"] and {"MODELURI", "MODGIT", "DATAHASH",
                                                                        "GITCOMM", "STMPDIR"} <= set(cat.meta)


def test_bad_inputs_are_refused_with_nothing_written(run_dir):
    tmp, app, _ = run_dir
    from skysieve.errors import DataError, RegistryError
    from skysieve.registry import load_transfer_source

    with pytest.raises(RegistryError, match="no alias 'champion'"):
        load_transfer_source("models:/morphology-source@champion", input_shape=(40, 40, 1), n_outputs=5)
    with pytest.raises(RegistryError, match="expected models:/NAME@ALIAS"):
        load_transfer_source("runs:/abc/model", input_shape=(40, 40, 1), n_outputs=5)
    with pytest.raises(DataError, match=r"takes inputs \(40, 40, 1\).*\(80, 80, 1\)"):
        load_transfer_source("models:/morphology-source/1", input_shape=(80, 80, 1), n_outputs=5)
    # stamps in a band the model was not fine-tuned on
    bad = tmp / "bad_band"
    shutil.copytree(tmp / "data/morphology/sim/target", bad)
    t = Table.read(bad / "catalog.fits")
    t["band"][0] = "F999W"
    t.write(bad / "catalog.fits", overwrite=True)
    result = runner.invoke(app, ["catalog", "--model", "models:/morphology-cnn@candidate", "--stamps", str(bad),
                                 "--out", "bad.fits"])
    assert result.exit_code == 2 and "F999W" in result.output and not (tmp / "bad.fits").exists()
    # vote fractions that do not sum to one: validation fails and fine-tuning refuses them
    t = Table.read(tmp / "data/morphology/sim/target/catalog.fits")
    row = int(np.flatnonzero(np.char.strip(np.asarray(t["split"]).astype(str)) == "train")[0])
    t["p_disk"][row] += 0.3
    bad_votes = tmp / "bad_votes"
    shutil.copytree(tmp / "data/morphology/sim", bad_votes)
    t.write(bad_votes / "target/catalog.fits", overwrite=True)
    result = runner.invoke(app, ["validate", "morphology", "--sim", str(bad_votes), "--report", "v.json"])
    assert result.exit_code == 1 and "vote_sum_error" in result.output and not (tmp / "v.json").exists()
    result = runner.invoke(app, ["finetune", "morphology", "--sim", str(bad_votes), "--out", "ft_bad"])
    assert result.exit_code == 2 and "not probability vectors" in result.output
    assert not (tmp / "ft_bad").exists()


def test_the_search_keeps_the_contract(morphology_search):
    from tests.tasks.test_conformance import check_search

    check_search(morphology_search)
