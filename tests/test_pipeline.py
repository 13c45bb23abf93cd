"""End to end: a real `dvc repro` of the pipeline on a tiny config, in a scratch git repo."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skysieve.config import load_params
from tests.conftest import REPO

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def run(cmd, cwd, check=True):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlflow.db"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=isinstance(cmd, str))
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Copy the pipeline definition and sources into a scratch repo with the tiny params."""
    root = tmp_path_factory.mktemp("pipeline")
    for name in ("dvc.yaml", "MLproject"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "tests" / "tiny_params.yaml", root / "params.yaml")
    # DVC needs every tracked key spelled out: write the fully resolved tiny params.
    resolved = load_params(root / "params.yaml").model_dump(mode="json")
    (root / "params.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "config", "core.analytics", "false"], root)
    first = run(["dvc", "repro"], root)
    return root, first


def test_repro_builds_every_stage(pipeline):
    root, first = pipeline
    for path in ("data/sz/cmb_cl.fits", "data/sz/sky/sky_90GHz.fits", "data/sz/sky/halos.fits",
                 "data/sz/cutouts/cutouts.h5", "data/sz/cutouts/catalog.fits", "data/sz/validation.json",
                 "data/sz/mf/mf_snr.fits", "models/sz/best_params.json", "models/sz/cnn/ensemble.json",
                 "data/sz/scores.fits", "reports/sz/evaluate/metrics.json", "reports/sz/ensemble/metrics.json",
                 "models/sz/ensemble.json", "models/sz/registered.json", "data/lens/cutouts/cutouts.h5",
                 "data/lens/validation.json", "models/lens/registered.json", "reports/lens/evaluate/metrics.json"):
        assert (root / path).is_file(), f"{path} missing after dvc repro:\n{first.stdout}"
    assert '"success": true' in (root / "data/sz/validation.json").read_text()
    registered = json.loads((root / "models/sz/registered.json").read_text())
    assert set(registered) == {"cnn", "ensemble"}
    metrics = json.loads((root / "reports/sz/ensemble/metrics.json").read_text())
    assert {"mf", "cnn", "and", "rank_product"} <= set(json.dumps(metrics).replace('"', " ").split())


def test_dvc_metrics_show_reads_the_reports(pipeline):
    root, _ = pipeline
    out = run(["dvc", "metrics", "show", "--json"], root).stdout
    assert "reports/sz/evaluate/metrics.json" in out


def test_promoted_lens_model_catalogs_fits_cutouts_as_the_pipeline_scored_them(pipeline, tmp_path):
    """The registered lens CNN, promoted, run by `skysieve catalog` on FITS files of test cutouts."""
    import numpy as np
    from astropy.io import fits
    from astropy.table import Table

    from skysieve.data import open_dataset

    root, _ = pipeline
    run(["skysieve", "promote", "skysieve-lens-cnn"], root)
    dataset = open_dataset(root / "data/lens/cutouts")
    scores = Table.read(root / "data/lens/scores.fits")
    rows = np.flatnonzero(np.isin(np.asarray(dataset.catalog["id"]), np.asarray(scores["id"])))[:8]
    cutouts = tmp_path / "cutouts"
    cutouts.mkdir()
    for row, image in zip(rows, dataset.read(rows), strict=True):
        hdus = [fits.PrimaryHDU()]
        for c, band in enumerate(dataset.channels):
            hdus.append(fits.ImageHDU(image[..., c], header=fits.Header({"FILTER": band, "BUNIT": "electron/s"})))
        fits.HDUList(hdus).writeto(cutouts / f"{dataset.catalog['id'][row]}.fits")
    out = tmp_path / "lenses.fits"
    run(["skysieve", "catalog", "--model", "models:/skysieve-lens-cnn@champion", "--cutouts", str(cutouts),
         "--out", str(out)], root)
    table = Table.read(out)
    expected = {str(i): p for i, p in zip(scores["id"], scores["cnn_prob"], strict=True)}
    assert len(table) == rows.size
    np.testing.assert_allclose(table["score"], [expected[str(i)] for i in table["id"]], rtol=1e-5, atol=1e-6)


def test_second_repro_is_a_no_op(pipeline):
    root, _ = pipeline
    out = run(["dvc", "repro"], root).stdout
    assert "Running stage" not in out, out


def test_cutout_param_change_does_not_resimulate(pipeline):
    root, _ = pipeline
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["cutouts_sz"]["group_tile_deg"] = 0.3
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro"], root).stdout
    assert "Running stage 'cutouts_sz'" in out
    assert "Running stage 'simulate_sz'" not in out and "Running stage 'cmb_spectrum'" not in out


def test_failed_validation_stops_repro_with_report(pipeline):
    root, _ = pipeline
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["validate_sz"]["min_positives"] = 100_000
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = run(["dvc", "repro", "validate_sz"], root, check=False)
    assert result.returncode != 0
    assert "validation failed" in result.stderr + result.stdout
    report = (root / "data/sz/validation.failed.md").read_text()
    assert "expect_column_sum_to_be_between" in report
