import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from skysieve.cli import build_app

runner = CliRunner()


def all_command_paths():
    root = typer.main.get_command(build_app())
    paths = []

    def walk(cmd, prefix):
        paths.append(prefix)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "skysieve")
def test_every_command_has_help(path):
    result = runner.invoke(build_app(), [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # Every command says what it does, not just its options.
    assert len(result.output.split("Options")[0].strip().splitlines()) >= 2


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from skysieve.cli import build_app; build_app(); "
            "heavy = [m for m in ('tensorflow', 'keras', 'mlflow', 'optuna', 'great_expectations', 'camb') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.strip() == "[]"


def test_bad_params_exit_2_with_message(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("cutouts_sz:\n  stride_arcmin: -3\n")
    result = runner.invoke(build_app(), ["params", "check", "--params", str(bad)])
    assert result.exit_code == 2
    assert "cutouts_sz.stride_arcmin" in result.output and "(got -3)" in result.output


def test_missing_input_names_the_fix(tmp_path):
    result = runner.invoke(build_app(), ["cutouts", "sz", "--params", "params.yaml", "--sky", str(tmp_path),
                                         "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "run `skysieve simulate sz" in result.output
    assert not (tmp_path / "out").exists()
