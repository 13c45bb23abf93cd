"""The MLflow Project: its environment (python_env.yaml) and its launcher (bin/skysieve, bin/with-env).

The entry points themselves run from a plain shell in tests/test_pipeline.py, on the built tiny pipeline.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from mlflow.projects._project_spec import load_project
from mlflow.utils.environment import _PythonEnv
from mlflow.utils.requirements_utils import _parse_requirements

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def _plain_env():
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p).resolve() != BIN.resolve())
    return {**{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}, "PATH": path}


def test_the_project_declares_a_python_env_pinned_from_the_lock():
    project = load_project(str(REPO))
    assert Path(project.env_config_path).name == "python_env.yaml"
    env = _PythonEnv.from_yaml(project.env_config_path)
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={env.python},<3.{int(env.python.split('.')[1]) + 1}", (env.python, requires)
    # What `mlflow run --env-manager uv|virtualenv` installs: every pin of the lock, then this checkout.
    parsed = [r.req_str for r in _parse_requirements(env.dependencies, is_constraint=False, base_dir=str(REPO))]
    lock = [line.strip() for line in (REPO / "requirements.lock").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert parsed == [*lock, "."]
    assert all("==" in pin for pin in lock)
    assert {"tensorflow_cpu", "jax", "keras"} <= {pin.split("==")[0].lower().replace("-", "_") for pin in lock}


def test_every_entry_point_runs_through_the_launcher():
    project = load_project(str(REPO))
    commands = {name: ep.command for name, ep in project._entry_points.items()}
    assert commands.pop("main") == "bin/with-env dvc repro"
    assert commands and all(c.startswith("bin/skysieve ") for c in commands.values()), commands


def test_the_launcher_runs_the_checkouts_cli_from_a_plain_shell(tmp_path):
    env = _plain_env()
    result = subprocess.run([str(REPO / "bin" / "skysieve"), "tasks", "--json"], check=False, cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"sz"' in result.stdout and '"lens"' in result.stdout
    # bin/with-env puts the environment's bin first, so tools a command starts (dvc's stages) find skysieve.
    which = subprocess.run([str(REPO / "bin" / "with-env"), "sh", "-c", "command -v skysieve; command -v dvc"],
                           check=False, cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=60)
    assert which.returncode == 0, which.stderr
    assert [Path(p).parent.resolve() for p in which.stdout.split()] == [BIN.resolve()] * 2
