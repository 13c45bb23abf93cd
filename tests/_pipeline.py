"""The tiny pipeline, built once per session: a real `dvc repro` of every search on tests/tiny_params.yaml.

A plugin of the suite (``pytest_plugins`` in tests/conftest.py), so that every module using
``pipeline`` or ``own_pipeline`` (tests/test_pipeline.py, tests/scale/test_dvc_remote.py) shares the one
build: each end-to-end check that needs built stages copies it instead of running them again.
A module that uses it needs the long timeout of :data:`BUILD_TIMEOUT`.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skysieve.config import load_params
from tests.conftest import REPO, new_mlflow_store

#: pytest-timeout mark for a module whose first test may build the pipeline (`dvc repro` from scratch: 145 s on
#: an idle 2-CPU machine, slower in proportion to the load), more than the suite's default (pyproject.toml).
BUILD_TIMEOUT = pytest.mark.timeout(1800)

BIN = Path(sys.executable).parent
#: Seconds one command may take: the first `dvc repro` builds everything; any other command is much shorter.
REPRO_TIMEOUT_S = 1200
COMMAND_TIMEOUT_S = 600


def run(cmd, cwd, check=True, timeout=COMMAND_TIMEOUT_S):
    """Run ``cmd`` in ``cwd`` with its own MLflow store and DVC site cache; kill it and its children at ``timeout``."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlflow.db",
           # DVC's state and index live in the repo, not in the machine-wide /var/tmp/dvc.
           "DVC_SITE_CACHE_DIR": str(Path(cwd) / ".dvc" / "tmp" / "site-cache")}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            shell=isinstance(cmd, str), start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # dvc and the stage processes it started
        stdout, stderr = proc.communicate()
        raise AssertionError(f"{cmd} still running after {timeout} s, killed:\n{stdout}\n{stderr}") from None
    finally:
        if proc.poll() is None:  # interrupted (pytest-timeout, Ctrl-C): leave nothing running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    result = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _repoint_mlflow_store(db: Path, old: Path, new: Path) -> None:
    """Rewrite the absolute paths under ``old`` in an MLflow SQLite store (artifact locations, model sources)."""
    with sqlite3.connect(db) as con:
        tables = [name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for _, column, kind, *_ in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                if "CHAR" in kind.upper() or "TEXT" in kind.upper():
                    con.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                                f'WHERE "{column}" LIKE ?', (str(old), str(new), f"%{old}%"))
    con.close()


@pytest.fixture
def own_pipeline(pipeline, tmp_path):
    """A private copy of the built pipeline, for a test that changes it (params, outputs, registry).

    The shared one stays as ``dvc repro`` left it, so the tests pass alone and in any order.
    """
    root, _ = pipeline
    copy = tmp_path / "pipeline"
    shutil.copytree(root, copy, symlinks=True,
                    ignore=lambda d, names: ["tmp"] if Path(d) == root / ".dvc" else [])  # locks, site cache
    _repoint_mlflow_store(copy / "mlflow.db", root, copy)
    return copy


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, mlflow_template):
    """Copy the pipeline definition and sources into a scratch repo with the tiny params, and `dvc repro` it.

    Shared by the session's tests: a test that changes the repo works on ``own_pipeline``.
    """
    root = tmp_path_factory.mktemp("pipeline")
    for name in ("dvc.yaml", "MLproject", "python_env.yaml", "requirements.lock", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    for name in ("src", "bin"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "tests" / "tiny_params.yaml", root / "params.yaml")
    # DVC needs every tracked key spelled out: write the fully resolved tiny params.
    resolved = load_params(root / "params.yaml").model_dump(mode="json")
    (root / "params.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "config", "core.analytics", "false"], root)
    new_mlflow_store(mlflow_template, root)  # the store `run` points the stages at, its schema already made
    first = run(["dvc", "repro"], root, timeout=REPRO_TIMEOUT_S)
    return root, first
