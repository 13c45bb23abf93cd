"""`skysieve catalog` with a registered detector: RA/Dec rows and provenance, bad input refused with no catalog."""

import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from skysieve.tasks.detect._fits import field_wcs, write_band

runner = CliRunner()
SCALE = 3.168


@pytest.fixture
def registered(tmp_path, monkeypatch, mlflow_db):
    """A random-weight centre_net on 32² windows, registered with the detect catalog tags (v2: with TTA)."""
    from skysieve._tracking import configure_mlflow, provenance
    from skysieve.config import CentreNetParams
    from skysieve.nets import InputSpec, build_net
    from skysieve.registry import register_cnn
    from skysieve.train import FoldEnsemble

    monkeypatch.chdir(tmp_path)
    # its own store (a copy of the migrated template), not the one a package-scoped fixture of tests/tasks
    # (`registry`) may have pointed MLFLOW_TRACKING_URI at
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_db)
    configure_mlflow(tmp_path)
    model = build_net(CentreNetParams(filters=4, max_filters=8, levels=2, context_convs=0, head_filters=4),
                      inputs=InputSpec((32, 32, 3), np.zeros(3), np.ones(3)), seed=0)
    ens = FoldEnsemble([model], metadata={"channels": ["g", "r", "i"], "input_shape": [32, 32, 3], "task": "detect"})
    models_dir = ens.save(tmp_path / "cnn")
    tags = {"detect.bands": "g,r,i", "detect.pixel_arcsec": repr(SCALE), "detect.window_px": "32",
            "detect.stride": "4", "detect.stretch": "sqrt", "detect.softening": "3.0", "detect.min_score": "0.0",
            "detect.max_per_window": "3", "detect.nms_arcsec": "30.0"}
    state = {"thresholds": {"cnn": 0.0}, "references": {"cnn_prob": [0.1, 0.2]}, "test_metrics": {"cnn": {"f1": 0.5}}}
    record = register_cnn(task="detect", models_dir=models_dir, name="tiny-detect", state=state,
                          provenance=provenance([models_dir], root=tmp_path), params={"train_detect": {}}, tags=tags)
    # version 2: the same net registered with test-time augmentation
    register_cnn(task="detect", models_dir=models_dir, name="tiny-detect", state=state,
                 provenance=provenance([models_dir], root=tmp_path), params={"train_detect": {}},
                 tags={**tags, "detect.tta": "true"})
    return record


def _bands(directory, *, size=80, nan_cols=0, bands=("g", "r", "i")):
    rng = np.random.default_rng(0)
    wcs = field_wcs(ra_deg=150.0, dec_deg=2.0, size_px=size, pixel_arcsec=SCALE)
    out = []
    for b in bands:
        img = rng.normal(0, 1, (size, size))
        img[:, :nan_cols] = np.nan
        write_band(directory / f"{b}.fits", img, wcs=wcs, band=b, sigma_nmgy=1.0, psf_fwhm_arcsec=1.4)
        out += ["--optical-images", str(directory / f"{b}.fits")]
    return out


def test_catalog_rows_header_and_bad_input(tmp_path, registered):
    from skysieve.cli import build_app

    app = build_app()
    out = tmp_path / "cat.fits"
    result = runner.invoke(app, ["catalog", "--model", "models:/tiny-detect/1", *_bands(tmp_path, nan_cols=20),
                                 "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    cat = Table.read(out)
    assert len(cat) > 0 and {"ra", "dec", "score", "is_cluster", "x_px", "y_px"} <= set(cat.colnames)
    assert np.all(np.abs(cat["dec"] - 2.0) < 0.1) and np.all(cat["x_px"] >= 19)
    h = cat.meta
    assert h["MODEL"] == "tiny-detect" and h["MODELVER"] == "1" and h["TASK"] == "detect" and h["NWIN"] == 9
    assert h["MASKDEG2"] == pytest.approx(80 * 20 * (SCALE / 3600) ** 2) and len(h["IMG1SHA"]) == 64
    bad = tmp_path / "bad.fits"
    missing = runner.invoke(app, ["catalog", "--model", "models:/tiny-detect/1",
                                  *_bands(tmp_path / ".." / tmp_path.name, bands=("g", "r")), "--out", str(bad)])
    assert missing.exit_code == 2 and "missing band(s) ['i']" in missing.output and not bad.exists()
    empty = runner.invoke(app, ["catalog", "--model", "models:/tiny-detect/1", *_bands(tmp_path, nan_cols=80),
                                "--out", str(bad), "--no-progress"])
    assert empty.exit_code == 2 and "every window is masked" in empty.output and not bad.exists()


def test_a_version_registered_with_tta_is_scored_in_eight_orientations(tmp_path, registered):
    """The ``detect.tta`` tag makes the catalog average the maps as the evaluation did; without it, plain."""
    from skysieve.cli import build_app

    app = build_app()
    bands = _bands(tmp_path)
    cats = {}
    for version in ("1", "2"):
        out = tmp_path / f"cat{version}.fits"
        result = runner.invoke(app, ["catalog", "--model", f"models:/tiny-detect/{version}", *bands, "--out",
                                     str(out), "--no-progress"])
        assert result.exit_code == 0, result.output
        cats[version] = Table.read(out)
    plain, tta = cats["1"], cats["2"]
    assert plain.meta["TTA"] is False and tta.meta["TTA"] is True
    # a random-weight net is not symmetric: averaging its eight views changes the scores
    assert not np.allclose(np.sort(plain["score"])[-3:], np.sort(tta["score"])[-3:])
