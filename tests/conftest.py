"""Tiny seeded fixtures shared across the suite (photutils-style), and the suite's hygiene.

Hygiene: Keras keeps its ``keras.json`` in a per-session temporary ``KERAS_HOME``
(never ``~/.keras``), and every test starts and ends with the same MLflow
tracking/registry URI, active experiment and MLflow/Keras environment variables.
"""

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Before anything imports keras: keras reads KERAS_HOME once, at import, and otherwise creates ~/.keras.
_HOME_KERAS = Path.home() / ".keras"
_HOME_KERAS_EXISTED = _HOME_KERAS.exists()
KERAS_HOME = Path(tempfile.mkdtemp(prefix="skysieve-test-keras-"))
os.environ["KERAS_HOME"] = str(KERAS_HOME)
atexit.register(shutil.rmtree, KERAS_HOME, ignore_errors=True)  # also when no test ran

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from astropy.table import Table  # noqa: E402

os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # MLflow's own switch (it reads DO_NOT_TRACK only as "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A tracking server, experiment or run inherited from the shell is not the tests' to write to.
for _name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME",
              "MLFLOW_RUN_ID"):
    os.environ.pop(_name, None)

REPO = Path(__file__).resolve().parents[1]

#: The tiny pipeline (``pipeline``, ``own_pipeline``), built once for the modules that use it.
pytest_plugins = ["tests._pipeline"]

#: Environment variables a test may change (directly, or through ``configure_mlflow``,
#: ``configure_environment`` and ``mlflow.set_*``) that must not outlive it.
_RESTORED_PREFIXES = ("MLFLOW_", "SKYSIEVE_", "KERAS_")
_RESTORED_NAMES = ("MPLCONFIGDIR", "GIT_PYTHON_REFRESH", "TF_CPP_MIN_LOG_LEVEL", "DO_NOT_TRACK",
                   "DVC_NO_ANALYTICS", "GX_ANALYTICS_ENABLED")


def _restored_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_RESTORED_PREFIXES) or k in _RESTORED_NAMES}


def _save_mlflow_state() -> dict | None:
    """MLflow's process-wide state as set (not as resolved): tracking and registry URI, active
    experiment, active runs; ``None`` while mlflow is not imported (its state is then the default)."""
    if "mlflow" not in sys.modules:
        return None
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    return {"tracking_uri": tracking_utils._tracking_uri, "registry_uri": registry_utils._registry_uri,
            "experiment_id": fluent._active_experiment_id,
            "runs": {run.info.run_id for run in fluent._active_run_stack.get()}}


def _restore_mlflow_state(state: dict | None) -> None:
    """Put back what :func:`_save_mlflow_state` saved; runs started since are ended.

    ``mlflow.get_tracking_uri()`` cannot be used to save the URI: it returns the
    resolved value (``$MLFLOW_TRACKING_URI`` or the default), and setting that
    back would pin it, so that a later ``MLFLOW_TRACKING_URI`` is ignored.
    """
    if "mlflow" not in sys.modules:
        return
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    state = state or {"tracking_uri": None, "registry_uri": None, "experiment_id": None, "runs": set()}
    while (run := mlflow.active_run()) is not None and run.info.run_id not in state["runs"]:
        mlflow.end_run()
    if tracking_utils._tracking_uri != state["tracking_uri"]:
        mlflow.set_tracking_uri(state["tracking_uri"])  # None included: also resets the tracer, as a change must
    registry_utils._registry_uri = state["registry_uri"]
    fluent._active_experiment_id = state["experiment_id"]


@contextlib.contextmanager
def isolated_global_state():
    """On exit, put back the MLflow state, the MLflow/Keras environment variables and ``sys.path`` found on entry.

    Every test runs inside one (autouse fixture below); a fixture with a wider
    scope that points MLflow somewhere wraps its own body in one too.
    ``sys.path``: a test that loads a registered model with MLflow itself gets
    the model's ``code/`` (a stub ``skysieve``) prepended, which the processes a
    later test starts would import instead of the checkout's.
    """
    env = _restored_env()
    mlflow_state = _save_mlflow_state()
    path = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = path
        _restore_mlflow_state(mlflow_state)
        for key in set(_restored_env()) - set(env):
            del os.environ[key]
        os.environ.update(env)


@contextlib.contextmanager
def searches_from(monkeypatch, spec: str):
    """The search registry built from ``$SKYSIEVE_TASKS=spec`` inside the block, rebuilt without it after."""
    from skysieve.tasks import reset_searches

    monkeypatch.setenv("SKYSIEVE_TASKS", spec)
    reset_searches()
    try:
        yield
    finally:
        monkeypatch.delenv("SKYSIEVE_TASKS")
        reset_searches()


@pytest.fixture(autouse=True)
def _isolate_global_state():
    """Each test ends with the MLflow state and the MLflow/Keras environment it started with."""
    with isolated_global_state():
        yield


@pytest.fixture(autouse=True)
def _folds_in_process_unless_asked(monkeypatch):
    """``fold_workers: 0`` (one per core) fits the folds in the test's process, as on a one-core machine.

    The tiny recipes train for a second or two per fold, and two worker processes cost ~10 s of
    TensorFlow start-up each: the suite would pay that in every cross-validation it runs. An
    explicit ``fold_workers`` is untouched, so ``tests/train/test_parallel.py`` and
    ``tests/train/test_resume.py`` still fit folds on workers; the CLI tests run a fresh process
    and read ``tests/tiny_params.yaml``, which pins ``fold_workers: 1``.
    """
    monkeypatch.setattr("skysieve.train._parallel.available_cpus", lambda: 1)


@pytest.fixture(scope="session", autouse=True)
def _keras_home_is_a_temp_dir():
    """Fails the session if it created ``~/.keras``."""
    yield
    created = _HOME_KERAS.exists() and not _HOME_KERAS_EXISTED
    assert not created, (f"{_HOME_KERAS} appeared during the test session: KERAS_HOME must point into a temp dir "
                         "before keras is imported (or another process with the same home created it)")


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store, its schema created and migrated once for the session.

    MLflow runs its ~50 Alembic migrations on every new SQLite store (3 s on an idle 2-CPU
    machine, 20 s on a loaded one); tests copy this file instead (:func:`new_mlflow_store`).
    The Default experiment is deleted from it, so a copy is what a brand-new store is: the
    first store opened on it re-creates experiment 0 with its own artifact root.
    """
    import sqlite3

    import mlflow

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    with contextlib.chdir(path.parent):  # the Default experiment's ./mlruns, deleted below
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}", registry_uri=f"sqlite:///{path}").search_experiments()
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM experiment_tags")
        con.execute("DELETE FROM experiments")
    con.close()
    return path


def new_mlflow_store(template: Path, directory: Path, name: str = "mlflow.db") -> str:
    """Copy the migrated ``template`` to ``directory/name``; returns its ``sqlite:///`` URI."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, directory / name)
    return f"sqlite:///{directory / name}"


@pytest.fixture
def mlflow_db(tmp_path, mlflow_template) -> str:
    """``sqlite:///<tmp_path>/mlflow.db``: a new, empty MLflow store (a copy of :func:`mlflow_template`)."""
    return new_mlflow_store(mlflow_template, tmp_path)


def make_car_wcs(shape: tuple[int, int], pixel_arcmin: float = 0.25, ra0: float = 15.0, dec0: float = 0.0):
    """A CAR WCS for a small patch centred on (ra0, dec0), built with pixell."""
    from pixell import enmap, utils

    ny, nx = shape
    half_h, half_w = ny * pixel_arcmin / 120.0, nx * pixel_arcmin / 120.0
    box = np.deg2rad([[dec0 - half_h, ra0 + half_w], [dec0 + half_h, ra0 - half_w]])
    geo_shape, wcs = enmap.geometry(pos=box, res=pixel_arcmin * utils.arcmin, proj="car")
    assert tuple(geo_shape[-2:]) == (ny, nx), geo_shape
    return wcs


@pytest.fixture
def tiny_sky(tmp_path) -> Path:
    """A 96×96-pixel three-band sky with white noise and a small halo catalog, as FITS files."""
    from skysieve.data.maps import band_name, write_map

    rng = np.random.default_rng(7)
    shape = (96, 96)
    wcs = make_car_wcs(shape)
    sky = tmp_path / "sky"
    sky.mkdir()
    for freq in (90.0, 148.0, 219.0):
        write_map(sky / f"sky_{band_name(freq)}.fits", rng.normal(0, 10, shape).astype(np.float32), wcs,
                  freq_ghz=freq)
    # Halos at chosen pixel positions: (x, y, mvir, z).
    px = [(15.0, 15.0, 3e14, 0.5), (40.0, 15.0, 1e14, 0.5), (62.0, 40.0, 5e14, 0.1), (40.0, 62.0, 4e14, 0.8)]
    x, y, m, z = (np.array(c) for c in zip(*px))
    ra, dec = wcs.wcs_pix2world(x, y, 0)
    halos = Table({"halo_id": np.arange(len(px)), "ra": ra, "dec": dec, "z": z, "mvir": m, "m500c": m / 1.6})
    halos["ra"].unit = halos["dec"].unit = "deg"
    halos["mvir"].unit = halos["m500c"].unit = "solMass"
    halos.write(sky / "halos.fits")
    return sky
