"""Registered models served where skysieve is not installed, and loaded where it is.

The virtualenv is built once for the module, from the registered versions' own
``requirements.txt`` (with their ``constraints.txt``) and nothing else, by the
Python the project's venv was made from; its ``mlflow`` then runs from a temp
directory with no ``PYTHONPATH``, so the only skysieve it can see is the code
each model carries.  Scores are compared with what skysieve computes in this
process on the same inputs: the catalog's CNN on tiles of the tiny sky, the
catalog table's own columns for the ensemble.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

import skysieve
from tests.catalog.conftest import CNN, ENSEMBLE, TILE

pytestmark = pytest.mark.slow

CHECKOUT = Path(skysieve.__file__).resolve().parent


def _clean_env(venv: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without any path to skysieve or to the project's venv.

    Bytecode is written (into the temp venv): pip installs without compiling, and the first
    import of TensorFlow compiles and caches only what it imports, for the processes after it.
    """
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    project = str(Path(sys.prefix) / "bin")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != project]
    env["PATH"] = os.pathsep.join([*([str(venv / "bin")] if venv else []), *path])
    env.update(extra)
    return env


def _download(uri: str, where: Path) -> Path:
    where.mkdir(parents=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(where)))


def _resnet_dir(root: Path) -> Path:
    """An untrained tiny ``resnet_small`` (the engine's builder: skysieve's own input layers) saved as training does."""
    import keras

    from skysieve.config import ResNetSmallParams
    from skysieve.nets import InputSpec, build_net
    from skysieve.train import FoldEnsemble, PlattCalibrator
    from tests.catalog.conftest import CHANNELS

    keras.utils.set_random_seed(7)
    cfg = ResNetSmallParams(stem_filters=4, width=2, stages=2, dense_units=8)
    n_out = 2 * len(CHANNELS) - 1  # the bands and their differences to the last (ColourDifference)
    spec = InputSpec((TILE, TILE, 3), np.zeros(n_out), np.full(n_out, 400.0), CHANNELS)
    model = build_net(cfg, inputs=spec, seed=7)
    ens = FoldEnsemble([model], PlattCalibrator.from_dict({"a": 1.0, "b": 0.0, "n_fit": 0}),
                       metadata={"task": "sz", "net": "resnet_small", "channels": list(CHANNELS),
                                 "input_shape": [TILE, TILE, 3]})
    return ens.save(root / "resnet")


@pytest.fixture(scope="module")
def uris(registry, tmp_path_factory):
    """``models:/`` URIs: the registered SZ CNN and ensemble, and a logged resnet_small CNN (skysieve's layers)."""
    from skysieve.registry import log_cnn_model

    root = tmp_path_factory.mktemp("resnet")
    exp = mlflow.create_experiment("serving-test", artifact_location=(root / "mlartifacts").as_uri())
    with mlflow.start_run(experiment_id=exp, run_name="log-resnet"):
        resnet = log_cnn_model(_resnet_dir(root))
    return {"cnn": f"models:/{CNN}@candidate", "ensemble": f"models:/{ENSEMBLE}@candidate", "resnet": resnet}


@pytest.fixture(scope="module")
def venv(uris, registry, tmp_path_factory):
    """A fresh virtualenv with the union of the three models' requirements (one pip call: they must agree).

    About 1.5 to 2.5 minutes on a 2-CPU machine with pip's cache warm (more where pip downloads).  It is 2 GB,
    mostly TensorFlow, left to pytest's clean-up of old temp dirs: deleting it takes half a minute to a minute here.
    """
    root = tmp_path_factory.mktemp("serving")
    requirements = []
    for key, uri in uris.items():
        requirements += ["-r", str(_download(uri, root / "models" / key) / "requirements.txt")]
    venv = root / "venv"
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    start = time.perf_counter()
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, env=_clean_env(), cwd=root)
    # --no-compile halves the install (232 s -> 119 s on a loaded 2-CPU machine): Python compiles what it imports.
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
                          "--disable-pip-version-check", *requirements], check=False, env=_clean_env(),
                         cwd=root, capture_output=True, text=True)
    assert pip.returncode == 0, f"pip install of the models' requirements failed:\n{pip.stderr[-4000:]}"
    print(f"\nserving venv: created and installed in {time.perf_counter() - start:.0f} s")
    work = root / "cwd"
    work.mkdir()
    env = _clean_env(venv, MLFLOW_TRACKING_URI=registry["uri"], KERAS_HOME=str(root / "keras"),
                     MPLCONFIGDIR=str(root / "mpl"))
    found = subprocess.run([str(venv / "bin" / "python"), "-c", "import skysieve"], check=False, env=env, cwd=work,
                           capture_output=True, text=True)
    assert found.returncode != 0, "skysieve is importable in the fresh venv: the test would prove nothing"
    return {"bin": venv / "bin", "env": env, "cwd": work, "models": root / "models"}


def _run(venv, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv["bin"] / args[0]), *args[1:]], check=False, env=venv["env"], cwd=venv["cwd"],
                          capture_output=True, text=True, timeout=timeout)


def _predict(venv, uri: str, payload: dict, name: str):
    src, out = venv["cwd"] / f"{name}.json", venv["cwd"] / f"{name}.out.json"
    src.write_text(json.dumps(payload))
    done = _run(venv, "mlflow", "models", "predict", "-m", uri, "-i", str(src), "-t", "json", "-o", str(out),
                "--env-manager", "local")
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())["predictions"]


@contextlib.contextmanager
def _serving(venv, uri: str):
    """``mlflow models serve`` on a free loopback port; yields its base URL, stops it (and its workers) on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (venv["cwd"] / f"serve-{port}.log").open("w")
    proc = subprocess.Popen([str(venv["bin"] / "mlflow"), "models", "serve", "-m", uri, "-h", "127.0.0.1", "-p",
                             str(port), "--env-manager", "local", "-w", "1"], env=venv["env"], cwd=venv["cwd"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, Path(log.name).read_text()[-4000:]
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "server did not answer /ping:\n" + Path(log.name).read_text()[-4000:]
            time.sleep(1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        log.close()


def _post(url: str, payload: dict):
    request = urllib.request.Request(f"{url}/invocations", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as r:
        assert r.status == 200
        return json.loads(r.read())["predictions"]


def _tiles(sky_files, model) -> np.ndarray:
    """Every tile of the tiny sky, cut as ``skysieve catalog`` cuts them, in the CNN's channel order."""
    from skysieve.catalog._tiles import iter_tile_batches, tile_grid
    from skysieve.data import read_maps

    sky = read_maps(sky_files)
    grid = tile_grid(sky.data.shape[-2:], size_px=TILE, central_px=12, stride_px=12)
    (batch,) = iter_tile_batches(sky.data, grid, batch_size=10_000)
    assert tuple(sky.bands) == tuple(model.channels)
    return np.asarray(batch.images, dtype=np.float32)


def _frame(records) -> dict[str, np.ndarray]:
    return {k: np.array([r[k] for r in records]) for k in records[0]}


# ---------------------------------------------------------------------------------------------------------------
# What a registered version carries
# ---------------------------------------------------------------------------------------------------------------


def test_registered_versions_carry_their_code_and_pinned_requirements(registry, lens_registry, tmp_path):
    from skysieve.registry._environment import shipped_modules

    for key, uri in {"cnn": f"models:/{CNN}@candidate", "ensemble": f"models:/{ENSEMBLE}@candidate",
                     "lens": lens_registry["uri"]}.items():
        local = _download(uri, tmp_path / key)
        pyfunc = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
        assert pyfunc["code"] == "code"
        code_file = CHECKOUT / "registry" / Path(pyfunc["model_code_path"]).name
        for module in shipped_modules(code_file):
            rel = Path(*module.split(".")[1:]).with_suffix(".py")
            assert (local / "code" / "skysieve" / rel).read_text() == (CHECKOUT / rel).read_text(), module
        requirements = (local / "requirements.txt").read_text().splitlines()
        assert requirements[-1] == "-c constraints.txt" and (local / "constraints.txt").is_file()
        assert all("==" in r for r in requirements[:-1]) and not any(r.startswith("skysieve") for r in requirements)
        assert any(r.startswith("tensorflow-cpu==") for r in requirements) is (key != "ensemble")
        meta = yaml.safe_load((local / "MLmodel").read_text())
        assert meta["signature"]["inputs"] and meta["saved_input_example_info"]["serving_input_path"]


def test_loading_models_in_a_skysieve_process_keeps_its_own_modules(registry, lens_registry):
    # MLflow puts each model's code/ first on sys.path: the process's skysieve must stay the checkout's.
    from skysieve.registry import CnnModel, EnsembleModel
    from skysieve.tasks.lens.catalog import load_lens_catalog_model
    from skysieve.tasks.sz._catalog_model import load_catalog_model

    before = {k: v for k, v in sys.modules.items() if k == "skysieve" or k.startswith("skysieve.")}
    path_before = list(sys.path)
    sz = load_catalog_model(f"models:/{ENSEMBLE}@candidate")
    lens = load_lens_catalog_model(lens_registry["uri"])
    ensemble = mlflow.pyfunc.load_model(f"models:/{ENSEMBLE}@candidate").unwrap_python_model()
    added = [p for p in sys.path if p not in path_before and Path(p, "skysieve").is_dir()]
    assert added, "the models' code/ directories were expected on sys.path (MLflow code_paths)"
    after = {k: v for k, v in sys.modules.items() if k == "skysieve" or k.startswith("skysieve.")}
    assert all(after[k] is v for k, v in before.items())  # nothing purged or reloaded
    outside = [k for k, m in after.items() if getattr(m, "__file__", None)
               and not Path(m.__file__).resolve().is_relative_to(CHECKOUT)]
    assert outside == []  # nothing imported from a model's copy
    assert type(sz.cnn) is CnnModel and type(ensemble) is EnsembleModel and type(lens.cnn) is CnnModel
    import importlib.util

    assert Path(importlib.util.find_spec("skysieve.train._stream").origin).is_relative_to(CHECKOUT)


# ---------------------------------------------------------------------------------------------------------------
# A fresh virtualenv with only the models' requirements
# ---------------------------------------------------------------------------------------------------------------


def test_the_fresh_environment_has_no_skysieve(venv):
    done = _run(venv, "python", "-c", "import skysieve")
    assert done.returncode != 0 and "No module named 'skysieve'" in done.stderr
    assert not (venv["cwd"] / "skysieve").exists() and "PYTHONPATH" not in venv["env"]


def test_mlflow_models_predict_scores_tiles_as_the_catalog_cnn_does(venv, uris, loaded_model, sky_files):
    x = _tiles(sky_files, loaded_model.cnn)
    expected = loaded_model.cnn.predict_proba(x)
    assert expected.max() > 0.5 and expected.min() < 0.1  # the planted cluster fires, blank sky does not
    got = _predict(venv, uris["cnn"], {"inputs": x.tolist()}, "cnn")
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64).reshape(-1), expected, rtol=1e-6, atol=1e-7)


def test_mlflow_models_predict_scores_the_ensemble_as_the_catalog_table_says(venv, uris, catalog_result,
                                                                            loaded_model):
    t = catalog_result.table  # the planted cluster's row
    rng = np.random.default_rng(5)
    cnn = np.concatenate([np.asarray(t["cnn_prob"], float), rng.random(30)])
    snr = np.concatenate([np.asarray(t["mf_snr"], float), rng.normal(3.0, 2.0, 30)])
    payload = {"dataframe_split": {"columns": ["cnn_prob", "mf_snr"], "data": np.column_stack([cnn, snr]).tolist()}}
    got = _frame(_predict(venv, uris["ensemble"], payload, "ensemble"))
    expected = loaded_model.ensembles.predict_columns(cnn, snr)
    n = len(t)
    assert n >= 1
    for col in ("q_cnn", "q_mf", "rank_product"):
        np.testing.assert_allclose(got[col][:n], np.asarray(t[col], dtype=np.float64), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-12, atol=1e-12)
    for m in ("mf", "cnn", "and", "rank_product"):
        np.testing.assert_array_equal(got[f"decision_{m}"][:n], np.asarray(t[f"decision_{m}"], dtype=bool))
        np.testing.assert_array_equal(got[f"decision_{m}"], np.asarray(expected[f"decision_{m}"], dtype=bool))


def test_mlflow_models_serve_answers_with_the_resnets_scores(venv, uris):
    # The engine's own net: CutoutCentering and ColourDifference must load from the shipped skysieve.nets._layers.
    x = np.random.default_rng(3).normal(0.0, 30.0, (9, TILE, TILE, 3)).astype(np.float32)
    expected = mlflow.pyfunc.load_model(uris["resnet"]).predict(x)
    with _serving(venv, uris["resnet"]) as url:
        got = _post(url, {"inputs": x.tolist()})
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64).reshape(-1), expected, rtol=1e-6, atol=1e-7)
    assert np.ptp(expected) > 0  # distinct inputs, distinct scores: a constant would not pass


def test_mlflow_models_serve_answers_with_the_ensembles_scores(venv, uris, loaded_model):
    rng = np.random.default_rng(4)
    cnn, snr = rng.random(50), rng.normal(3.0, 2.0, 50)
    expected = loaded_model.ensembles.predict_columns(cnn, snr)
    with _serving(venv, uris["ensemble"]) as url:
        got = _frame(_post(url, {"dataframe_split": {"columns": ["cnn_prob", "mf_snr"],
                                                     "data": np.column_stack([cnn, snr]).tolist()}}))
    np.testing.assert_allclose(got["rank_product"], expected["rank_product"], rtol=1e-12, atol=1e-12)
    for m in ("mf", "cnn", "and", "rank_product"):
        np.testing.assert_array_equal(got[f"decision_{m}"], np.asarray(expected[f"decision_{m}"], dtype=bool))
    assert 0 < np.sum(got["decision_rank_product"]) < 50
