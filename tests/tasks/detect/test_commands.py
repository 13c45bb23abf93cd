"""The detect stages simulate → cutouts → validate through the command line on a tiny config; bad input refused."""

import json

import numpy as np
import pytest
import yaml
from astropy.table import Table
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.data import dense_targets, open_dataset

runner = CliRunner()


@pytest.fixture
def app():
    return build_app()


def test_simulate_cutouts_validate_detect(tmp_path, app):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "simulate_detect": {"n_fields": 12, "native_size_px": 512, "bin": 8, "seed": 3},
        "cutouts_detect": {"val_frac": 0.25, "test_frac": 0.25},
        "validate_detect": {"min_positives": 2, "label_rate_min": 0.3},
    }))
    sim, cut, report = tmp_path / "sim", tmp_path / "cutouts", tmp_path / "validation.json"
    result = runner.invoke(app, ["simulate", "detect", "-p", str(params), "--out", str(sim), "--no-progress"])
    assert result.exit_code == 0, result.output
    fields, truth = Table.read(sim / "fields.fits"), Table.read(sim / "truth.fits")
    assert len(fields) == 12 and int(fields["n_clusters"].sum()) == len(truth)
    assert truth["z"].min() > 0.1 and truth["z"].max() < 0.4 and truth["m200_msun"].unit == "solMass"
    result = runner.invoke(app, ["cutouts", "detect", "-p", str(params), "--sim", str(sim), "--out", str(cut),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    ds = open_dataset(cut)
    assert ds.shape == (12, 64, 64, 3) and ds.channels == ("g", "r", "i")
    t = dense_targets(ds)
    assert t.shape == (12, 16, 16, 3) and t.loss == "centre_heatmap"
    np.testing.assert_array_equal(ds.labels, (np.asarray(fields["n_clusters"]) > 0).astype(int))
    result = runner.invoke(app, ["validate", "detect", "-p", str(params), "--data", str(cut), "--sim", str(sim),
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["success"]


def test_cutouts_detect_without_simulation_names_the_fix(tmp_path, app):
    result = runner.invoke(app, ["cutouts", "detect", "--sim", str(tmp_path / "none"), "--out", str(tmp_path / "o"),
                                 "--no-progress"])
    assert result.exit_code == 2 and "run `skysieve simulate detect" in result.output
    assert not (tmp_path / "o").exists()


def test_cutouts_target_sigma_in_kpc_at_each_cluster_redshift(tmp_path, app):
    # σ of each bump = target_sigma_kpc / (proper kpc per pixel at the cluster's z, astropy D_A) / stride
    from skysieve.config import load_params
    from skysieve.tasks.detect.dataset import centre_cell
    from skysieve.tasks.detect.report import kpc_per_pixel

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "simulate_detect": {"n_fields": 6, "native_size_px": 512, "bin": 8, "seed": 5, "blank_fraction": 0.0,
                            "max_clusters": 1},
        "cutouts_detect": {"val_frac": 0.25, "test_frac": 0.25, "target_sigma_kpc": 60.0, "min_sigma_px": 0.1},
    }))
    sim, cut = tmp_path / "sim", tmp_path / "cutouts"
    result = runner.invoke(app, ["simulate", "detect", "-p", str(params), "--out", str(sim), "--no-progress"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["cutouts", "detect", "-p", str(params), "--sim", str(sim), "--out", str(cut),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    p = load_params(params)
    import h5py

    with h5py.File(cut / "cutouts.h5", "r") as h5:
        heat = h5["targets"][..., 0]
    row = {int(i): k for k, i in enumerate(Table.read(cut / "catalog.fits")["id"])}
    truth = Table.read(sim / "truth.fits")
    kpp = kpc_per_pixel(np.asarray(truth["z"]), pixel_arcsec=0.396 * 8, cosmo=p.cosmology)
    checked = 0
    for t, k in zip(truth, kpp, strict=True):
        cx, cy = int(centre_cell(t["x_px"], stride=4)), int(centre_cell(t["y_px"], stride=4))
        v = heat[row[int(t["field"])], cy, cx + 1]
        assert heat[row[int(t["field"])], cy, cx] == 1.0
        assert np.sqrt(-1 / (2 * np.log(v))) == pytest.approx(60.0 / k / 4, rel=1e-3)
        checked += 1
    assert checked == len(truth) >= 4
