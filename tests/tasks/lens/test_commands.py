"""The lens stages end to end through the command line, on a tiny config."""

import json

import yaml
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.data import open_dataset

runner = CliRunner()


def test_simulate_cutouts_validate_lens(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "simulate_lens": {"n_cutouts": 18, "size_px": 24, "supersampling": 2, "seed": 8},
        "cutouts_lens": {"split": {"val_frac": 0.25, "test_frac": 0.25}},
        "validate_lens": {"label_rate_min": 0.5, "label_rate_max": 0.8, "max_abs_pixel_uk": 1e4},
    }))
    sim, cut, report = tmp_path / "sim", tmp_path / "cutouts", tmp_path / "validation.json"
    app = build_app()
    result = runner.invoke(app, ["simulate", "lens", "-p", str(params), "--out", str(sim), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "18 cutouts" in result.output and "12 lenses" in result.output
    result = runner.invoke(app, ["cutouts", "lens", "-p", str(params), "--sim", str(sim), "--out", str(cut)])
    assert result.exit_code == 0, result.output
    assert open_dataset(cut).shape == (18, 24, 24, 3)
    result = runner.invoke(app, ["validate", "lens", "-p", str(params), "--data", str(cut), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["success"] and report.with_suffix(".md").is_file()


def test_cutouts_lens_without_simulation_names_the_fix(tmp_path):
    result = runner.invoke(build_app(), ["cutouts", "lens", "--sim", str(tmp_path / "none"),
                                         "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "run `skysieve simulate lens" in result.output
    assert not (tmp_path / "out").exists()
