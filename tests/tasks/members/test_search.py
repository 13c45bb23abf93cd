"""The members search keeps the contract and runs simulate → catalog through the real engine on a tiny config."""

import json

import mlflow
import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from typer.testing import CliRunner

from skysieve.tasks import TASK_TAG
from tests.tasks.members.conftest import tiny_members_cfg
from tests.tasks.test_conformance import check_search

runner = CliRunner()


def test_simulate_members_command_writes_the_simulation(members, tmp_path, monkeypatch):
    from skysieve.cli import build_app

    monkeypatch.chdir(tmp_path)
    cfg = tiny_members_cfg(sample_scale=0.02, neighbours_per_cutout=0.0).model_dump(mode="json")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"simulate_members": cfg}))
    out = invoke(build_app(), "simulate", "members", "--out", "sim", "--workers", "1")
    truth = Table.read(tmp_path / "sim" / "truth.fits")
    assert f"wrote sim: {len(truth)} sources in 3 clusters" in out and (tmp_path / "sim" / "stamps.h5").is_file()


def test_members_keeps_the_search_contract(members):
    check_search(members)
    assert {s.name for s in members.stages()} == {f"{v}_members" for v in (
        "simulate", "cutouts", "validate", "tune", "train", "evaluate", "register")}


def test_members_defaults_and_paper_profile_follow_the_papers_protocol(members):
    from skysieve.config import load_params, params_model
    from tests.conftest import REPO

    p = params_model()()
    assert p.train_members.net.name == "vgg" and p.train_members.net.negative_slope > 0  # LeakyReLU
    assert p.train_members.batch_size == 64 and p.train_members.splitter == "stratified_kfold"
    assert p.train_members.augment.fraction == 0.15 and p.cutouts_members.val_frac == 0.1
    assert p.cutouts_members.channels == ("F435W", "F606W", "F814W", "F105W", "F140W")
    assert len(p.simulate_members.clusters) == 15 and len(p.simulate_members.bands) == 12
    paper = load_params(REPO / "params" / "paper_members.yaml")
    t = paper.train_members
    assert (t.optimizer.name, t.batch_size, t.k_folds, t.net.filters, t.net.max_filters, t.net.dense_units) == (
        "adadelta", 64, 10, 64, 512, 4096)
    assert paper.simulate_members.sample_scale == 1.0 and paper.train_members.augment.fraction == 0.15


@pytest.fixture
def workdir(tmp_path, monkeypatch, mlflow_db):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)  # <tmp_path>/mlflow.db, a copy of the migrated template
    monkeypatch.delenv("SKYSIEVE_OPTUNA_STORAGE", raising=False)
    sim = tiny_members_cfg().model_dump(mode="json")  # the session simulation's config (conftest)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({
        "simulate_members": sim,
        "cutouts_members": {"val_frac": 0.2, "test_frac": 0.25},
        "validate_members": {"label_rate_min": 0.2, "label_rate_max": 0.8, "min_positives": 3},
        "tune_members": {"n_trials": 1, "storage": "sqlite:///optuna.db"},
        "train_members": {"net": {"name": "vgg", "filters": 4, "max_filters": 8, "blocks": 2, "dense_units": 8,
                                  "input_stretch": "asinh"},
                          "epochs": 2, "k_folds": 2, "batch_size": 16, "norm_sample": 16},
        "evaluate_members": {"n_bootstrap": 20, "rf_trees": 20, "target_purity": 0.6},
    }))
    previous = mlflow.get_tracking_uri()
    yield tmp_path
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def invoke(app, *args, code=0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


def _write_cutout(path, image, bands, *, ra, dec, bunit="electron/s", scale=0.065):
    hdus = [fits.PrimaryHDU()]
    for j, band in enumerate(bands):
        h = fits.Header({"FILTER": band, "BUNIT": bunit, "PIXSCALE": scale, "RA_OBJ": ra, "DEC_OBJ": dec})
        hdus.append(fits.ImageHDU(image[..., j], header=h, name=band))
    fits.HDUList(hdus).writeto(path)


@pytest.mark.slow
def test_members_runs_cutouts_to_catalog_through_the_real_engine(members, members_sim, workdir):
    """cutouts → validate → train → evaluate → register → catalog (tune is the engine's, tested there)."""
    from skysieve.cli import build_app
    from skysieve.data import open_dataset

    app = build_app()
    out = invoke(app, "cutouts", "members", "--sim", members_sim[0], "--out", "cutouts")
    assert "dropped for a missing band" in out
    invoke(app, "validate", "members", "--data", "cutouts", "--report", "validation.json")
    report = json.loads((workdir / "validation.json").read_text())
    assert report["success"] and report["summary"]["dropped_missing_band"] >= 0
    invoke(app, "train", "members", "--data", "cutouts", "--out", "cnn")
    invoke(app, "evaluate", "members", "--data", "cutouts", "--model", "cnn", "--state", "state.json",
           "--scores", "scores.fits", "--out", "report")
    state = json.loads((workdir / "state.json").read_text())
    assert set(state["test_metrics"]) == {"cnn", "rf", "gmm"}
    for m in state["test_metrics"].values():
        assert m["n"] > 0 and (m["f1_lo"] is None or m["f1_lo"] <= m["f1"] <= m["f1_hi"])
    meta = json.loads((workdir / "report" / "metrics.json").read_text())["meta"]
    # thresholds on validation plus the out-of-fold training scores, for every method
    assert all(n == meta["n_val"] + meta["n_train"] for n in meta["threshold_sample"].values()), meta
    assert {p.name for p in (workdir / "report").iterdir()} >= {"metrics.json", "table.md", "roc.png", "venn.png",
                                                                 "bins.png", "metrics.csv", "venn.csv"}
    invoke(app, "register", "members", "--model", "cnn", "--state", "state.json", "--data", "cutouts",
           "--out", "registered.json")
    mv = mlflow.MlflowClient().get_model_version_by_alias("skysieve-members-cnn", "candidate")
    assert mv.tags[TASK_TAG] == "members" and float(mv.tags["threshold.cnn"]) == state["thresholds"]["cnn"]

    # new cutouts as FITS files: 3 good, one missing F140W (skipped, counted), one with NaNs (skipped, counted)
    ds = open_dataset(workdir / "cutouts")
    images, bands = ds.read(np.arange(5)), list(ds.channels)
    new = workdir / "new"
    new.mkdir()
    for i in range(3):
        _write_cutout(new / f"src{i}.fits", images[i], bands, ra=10.0 + i, dec=-5.0)
    _write_cutout(new / "src3.fits", images[3][..., :4], bands[:4], ra=13.0, dec=-5.0)
    bad = images[4].copy()
    bad[3, 3, 0] = np.nan
    _write_cutout(new / "src4.fits", bad, bands, ra=14.0, dec=-5.0)
    uri = "models:/skysieve-members-cnn@candidate"
    out = invoke(app, "catalog", "--model", uri, "--member-cutouts", new, "--out", "cat.fits", "--no-progress")
    cat = Table.read(workdir / "cat.fits")
    assert list(cat["id"]) == [f"src{i}" for i in range(5)]
    prob = np.ma.filled(np.ma.asarray(cat["member_prob"], dtype=float), np.nan)
    assert list(cat["flags"]) == [0, 0, 0, 1, 2] and np.isnan(prob[3:]).all()
    assert np.all((prob[:3] >= 0) & (prob[:3] <= 1))
    assert list(cat["is_member"][:3]) == list(prob[:3] >= float(cat.meta["THR_CNN"]))
    assert cat.meta["MODEL"] == "skysieve-members-cnn" and cat.meta["BANDCFG"] == "mixed" and "CODEVER" in cat.meta
    assert "1 missing a band" in out

    # the same three sources pasted into one large image per band (TAN WCS) + a positions table: same probabilities
    size, n_side = images.shape[1], 3 * images.shape[1] + 10
    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval, wcs.wcs.crpix = ["RA---TAN", "DEC--TAN"], [40.0, -20.0], [n_side / 2, n_side / 2]
    wcs.wcs.cdelt = [-0.065 / 3600, 0.065 / 3600]
    x0 = np.array([2, 2 + size, 2 + 2 * size])
    big = workdir / "big"
    big.mkdir()
    for j, band in enumerate(bands):
        mosaic = np.zeros((n_side, n_side), np.float32)
        for i in range(3):
            mosaic[5: 5 + size, x0[i]: x0[i] + size] = images[i][..., j]
        header = wcs.to_header()
        header.update({"FILTER": band, "BUNIT": "electron/s"})
        fits.PrimaryHDU(mosaic, header=header).writeto(big / f"{band}.fits")
    sky = wcs.pixel_to_world(x0 + (size - 1) / 2, np.full(3, 5 + (size - 1) / 2))
    Table({"id": ["p0", "p1", "p2"], "ra": sky.ra.deg, "dec": sky.dec.deg}).write(big / "positions.csv")
    args = [a for b in bands for a in ("--member-images", big / f"{b}.fits")]
    invoke(app, "catalog", "--model", uri, *args, "--member-positions", big / "positions.csv", "--out", "big.fits")
    at_positions = Table.read(workdir / "big.fits")
    assert list(at_positions["flags"]) == [0, 0, 0] and at_positions.meta["NPOS"] == 3
    np.testing.assert_allclose(at_positions["member_prob"], prob[:3], rtol=1e-5)

    # bad input: wrong BUNIT or pixel scale is an error naming the file, and no catalog is written
    wrong = workdir / "wrong"
    wrong.mkdir()
    _write_cutout(wrong / "a.fits", images[0], bands, ra=1.0, dec=1.0, bunit="MJy/sr")
    result = runner.invoke(app, ["catalog", "--model", uri, "--member-cutouts", str(wrong), "--out", "bad.fits"])
    assert result.exit_code != 0 and "a.fits" in result.output and "BUNIT" in result.output
    (wrong / "a.fits").unlink()
    _write_cutout(wrong / "b.fits", images[0], bands, ra=1.0, dec=1.0, scale=0.03)
    result = runner.invoke(app, ["catalog", "--model", uri, "--member-cutouts", str(wrong), "--out", "bad.fits"])
    assert result.exit_code != 0 and "pixel scale" in result.output
    (wrong / "b.fits").unlink()
    _write_cutout(wrong / "c.fits", images[0][..., :2], bands[:2], ra=1.0, dec=1.0)
    result = runner.invoke(app, ["catalog", "--model", uri, "--member-cutouts", str(wrong), "--out", "bad.fits"])
    assert result.exit_code != 0 and "none of 1 cutouts is usable" in result.output
    assert not (workdir / "bad.fits").exists()
