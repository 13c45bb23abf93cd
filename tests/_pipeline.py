"""The tiny pipeline, built once per session: a real `dvc repro` of every search on tests/tiny_params.yaml.

A plugin of the suite (``pytest_plugins`` in tests/conftest.py), so that every module using
``pipeline`` or ``own_pipeline`` (tests/test_pipeline.py, tests/scale/test_dvc_remote.py) shares the one
build: each end-to-end check that needs built stages copies it instead of running them again.

The build starts in the background as soon as the session has collected a test that needs it
(:func:`pytest_collection_finish`), so its `dvc repro` — ≈ 40 stage processes, most of them one busy
core for a few seconds of start-up — runs beside the other tests instead of before the first test that
uses it; the modules that use it run last (:func:`pytest_collection_modifyitems`). ``pipeline`` waits for it; a module that uses it keeps the long timeout of
:data:`BUILD_TIMEOUT` in case the build is not done yet. ``SKYSIEVE_TEST_PIPELINE_EAGER=0`` builds it
in the foreground when first needed instead.
"""

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from skysieve.config import load_params
from tests.conftest import REPO

#: pytest-timeout mark for a module whose first test may wait for (or make) the pipeline's build (`dvc repro` from
#: scratch: 474 s on an idle 2-CPU machine, slower beside other tests), more than the suite's default (pyproject.toml).
BUILD_TIMEOUT = pytest.mark.timeout(1800)

BIN = Path(sys.executable).parent
#: Seconds one command may take: the first `dvc repro` builds everything; any other command is much shorter.
REPRO_TIMEOUT_S = 1200
COMMAND_TIMEOUT_S = 600


def run(cmd, cwd, check=True, timeout=COMMAND_TIMEOUT_S, environ=None, started=None):
    """Run ``cmd`` in ``cwd`` with its own MLflow store and DVC site cache; kill it and its children at ``timeout``.

    The environment is ``environ`` (default: this process's) with those settings on top; the process
    is appended to the list ``started``, if given, as soon as it starts.
    """
    env = {**(os.environ if environ is None else environ), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlflow.db",
           # DVC's state and index live in the repo, not in the machine-wide /var/tmp/dvc.
           "DVC_SITE_CACHE_DIR": str(Path(cwd) / ".dvc" / "tmp" / "site-cache")}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            shell=isinstance(cmd, str), start_new_session=True)
    if started is not None:
        started.append(proc)
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


class _Build:
    """The tiny pipeline's `dvc repro`, run on a background thread in a scratch repo of its own.

    Everything the thread needs is fixed when it starts: the resolved tiny params (written here, in the
    calling thread, so that no import happens on two threads at once) and a copy of the environment
    (tests change ``os.environ`` while it runs).
    """

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="skysieve-tiny-pipeline-"))
        self.environ = dict(os.environ)
        self.result: subprocess.CompletedProcess | None = None
        self.error: BaseException | None = None
        self._procs: list = []
        for name in ("dvc.yaml", "MLproject", "python_env.yaml", "requirements.lock", "pyproject.toml"):
            shutil.copy(REPO / name, self.root / name)
        # DVC needs every tracked key spelled out: write the fully resolved tiny params.
        resolved = load_params(REPO / "tests" / "tiny_params.yaml").model_dump(mode="json")
        (self.root / "params.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
        self._thread = threading.Thread(target=self._build, name="tiny-pipeline", daemon=True)
        self._thread.start()

    def _run(self, cmd, timeout=COMMAND_TIMEOUT_S):
        return run(cmd, self.root, timeout=timeout, environ=self.environ, started=self._procs)

    def _build(self) -> None:
        try:
            for name in ("src", "bin"):
                shutil.copytree(REPO / name, self.root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
            self._run(["git", "init", "-q"])
            self._run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m",
                       "init"])
            self._run(["dvc", "init", "-q"])
            self._run(["dvc", "config", "core.analytics", "false"])
            # The first stage that tracks a run creates the MLflow store `run` points the stages at.
            self.result = self._run(["dvc", "repro"], timeout=REPRO_TIMEOUT_S)
        except BaseException as exc:  # handed to the test that waits for the build
            self.error = exc

    def wait(self) -> tuple[Path, subprocess.CompletedProcess]:
        self._thread.join()
        if self.error is not None:
            raise AssertionError(f"the tiny pipeline's build failed: {self.error}") from self.error
        return self.root, self.result

    def close(self) -> None:
        """Stop a build still running (the session ended or was interrupted) and remove its repo."""
        if self._thread.is_alive():
            for proc in self._procs:  # each the leader of its own process group (`run`)
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
            self._thread.join(timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


_BUILD = pytest.StashKey[_Build]()


def _eager() -> bool:
    return os.environ.get("SKYSIEVE_TEST_PIPELINE_EAGER", "1") != "0"


def _needs_pipeline(item) -> bool:
    return "pipeline" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    """Run the modules that use the pipeline last (in their order), so the background build has the most time.

    Whole modules move, so a module-scoped fixture is still set up once; the tests pass in any order.
    """
    late = {item.module for item in items if _needs_pipeline(item)}
    if late:
        items[:] = [i for i in items if i.module not in late] + [i for i in items if i.module in late]


def pytest_collection_finish(session):
    """Start the build now if a collected test needs the pipeline (and the eager build is not switched off)."""
    if session.config.option.collectonly:
        return
    if _eager() and any(_needs_pipeline(item) for item in session.items):
        session.config.stash[_BUILD] = _Build()


def pytest_unconfigure(config):
    build = config.stash.get(_BUILD, None)
    if build is not None:
        build.close()


@pytest.fixture(scope="session")
def pipeline(request):
    """The scratch repo with the tiny params after `dvc repro`, and that command's result.

    Shared by the session's tests: a test that changes the repo works on ``own_pipeline``.
    """
    build = request.config.stash.get(_BUILD, None)
    if build is None:  # not started at collection: build it now
        build = request.config.stash[_BUILD] = _Build()
    return build.wait()
