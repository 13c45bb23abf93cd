"""Fixtures for catalog production: a tiny sky with one planted cluster, a real CNN, a real registry.

The CNN is a real Keras model in the ``models/<task>/cnn`` format of
``skysieve.train`` (:class:`~skysieve.train.FoldEnsemble` saved with its own
``save``), with hand-set weights so what fires is known: it averages the
90 and 148 GHz decrement over 3×3 pixels in the tile's central region and
fires when the deepest one is below −20 µK — a bright tSZ cluster, not noise.
The registry is MLflow on SQLite in a temporary directory, with the CNN
logged by :func:`~skysieve.registry.log_cnn_model` and an ensemble registered
with the catalog config as the pipeline registers them.

The lens task's CNN (``lens_registry``) is a real 3-band Keras model too,
hand-weighted (a sigmoid of a fixed random linear map of the pixels), saved
in the same format and registered in the same store by the real
``skysieve register lens`` command, with its lens catalog config.
"""

import os
from pathlib import Path

import mlflow
import numpy as np
import pytest
from astropy.table import Table

from tests.conftest import isolated_global_state, make_car_wcs, new_mlflow_store

CHANNELS = ("90GHz", "148GHz", "219GHz")
FREQS = (90.0, 148.0, 219.0)
BEAMS = {"90GHz": 1.7, "148GHz": 1.2, "219GHz": 1.1}
WHITE = {"90GHz": 2.8, "148GHz": 2.6, "219GHz": 6.6}
SHAPE = (160, 160)
TILE, CENTRAL = 16, 12  # 4′ tiles, 3′ central regions at 0.25′
CLUSTER_XY = (101.3, 77.6)  # the planted cluster, pixels
SOURCE_XY = (40, 120)  # a bright radio source (on a pixel centre)
ENSEMBLE = "test-sz-ensemble"
CNN = "test-sz-cnn"
THRESHOLDS = {"mf": 5.0, "cnn": 0.5, "and.cnn": 0.5, "and.mf": 5.0, "rank_product": 0.8}


def catalog_params():
    """Params of the tiny pipeline: 0.25′ pixels, 4′ tiles with 3′ centres, MF finding its own sources."""
    from skysieve.config import Params

    return Params.model_validate({
        "cutouts_sz": {"size_arcmin": 4.0, "stride_arcmin": 3.0, "central_arcmin": 3.0},
        "mf_sz": {"sources": "find", "n_scales": 6, "theta_c_max_arcmin": 2.0},
    })


def build_decrement_cnn(threshold_uk: float = 20.0, slope: float = 0.4):
    """A real Keras model (16×16×3 → probability) with hand-set weights; see the module docstring."""
    import keras

    inputs = keras.Input((TILE, TILE, 3))
    x = keras.layers.Cropping2D((TILE - CENTRAL) // 2)(inputs)
    x = keras.layers.Conv2D(1, 3, name="decrement")(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    model = keras.Model(inputs, out)
    kernel = np.zeros((3, 3, 3, 1), np.float32)
    kernel[:, :, 0, 0] = kernel[:, :, 1, 0] = -1.0 / 18.0  # minus the mean of the 90 and 148 GHz pixels
    model.get_layer("decrement").set_weights([kernel, np.zeros(1, np.float32)])
    model.get_layer("prob").set_weights([np.array([[slope]], np.float32), np.array([-slope * threshold_uk],
                                                                                   np.float32)])
    return model


def save_cnn(directory: Path) -> Path:
    """Two fold models and an identity Platt calibrator, saved as ``skysieve train`` saves them."""
    from skysieve.train import FoldEnsemble, PlattCalibrator

    calibrator = PlattCalibrator.from_dict({"a": 1.0, "b": 0.0, "n_fit": 0})
    ens = FoldEnsemble([build_decrement_cnn(20.0), build_decrement_cnn(22.0)], calibrator,
                       metadata={"task": "sz", "net": "hand-set", "channels": list(CHANNELS),
                                 "input_shape": [TILE, TILE, 3]})
    return ens.save(directory)


def paint_sky(directory: Path, *, shape=SHAPE, seed: int = 5, cluster_xy=CLUSTER_XY, y_arcmin2: float = 3e-4,
              source_xy=SOURCE_XY, wcs=None) -> list[Path]:
    """Three band maps (white noise, one beta-model cluster, one radio source) written as FITS."""
    from skysieve.data.maps import band_name, write_map
    from skysieve.sim.instrument import apply_beam, white_noise
    from skysieve.sim.sources import flux_column, source_map
    from skysieve.sim.tsz import paint_beta_profiles, tsz_frequency_factor

    wcs = wcs if wcs is not None else make_car_wcs(shape)
    rng = np.random.default_rng(seed)
    ra, dec = wcs.wcs_pix2world([cluster_xy], 0)[0]
    ymap = paint_beta_profiles(shape, wcs, [ra], [dec], [y_arcmin2], 0.8, 20.0)
    sources = Table()
    if source_xy is not None:
        sra, sdec = wcs.wcs_pix2world([source_xy], 0)[0]
        sources = Table({"ra": [sra], "dec": [sdec]})
        for f, flux in zip(FREQS, (60.0, 45.0, 35.0)):
            sources[flux_column(f)] = [flux]
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in FREQS:
        b = band_name(f)
        sky = ymap * (2.7255e6 * tsz_frequency_factor(f))  # an enmap: keeps its WCS for the beam
        if len(sources):
            sky = sky + source_map(shape, wcs, sources, freq_ghz=f)
        sky = np.asarray(apply_beam(sky, BEAMS[b])) + np.asarray(white_noise(shape, wcs, WHITE[b], seed=rng))
        paths.append(write_map(directory / f"sky_{b}.fits", sky.astype(np.float32), wcs, freq_ghz=f))
    return paths


def truth_table(wcs, *, shape=SHAPE) -> Table:
    """Halos: the planted cluster (passes the cut), a massive one with no signal (a miss), one below the
    mass cut, one at low redshift, and one in the 2-pixel edge strip outside the footprint."""
    rows = [  # x, y, mvir, z
        (*CLUSTER_XY, 6e14, 0.5),
        (30.0, 30.0, 4e14, 0.6),
        (130.0, 30.0, 5e13, 0.5),
        (130.0, 130.0, 6e14, 0.1),
        (0.5, float(shape[0]) / 2, 8e14, 0.4),
    ]
    x, y, m, z = (np.array(c, float) for c in zip(*rows))
    ra, dec = wcs.wcs_pix2world(x, y, 0)
    t = Table({"halo_id": np.arange(10, 10 + len(rows)), "ra": ra, "dec": dec, "z": z, "mvir": m, "m500c": m / 1.6})
    t["ra"].unit = t["dec"].unit = "deg"
    t["mvir"].unit = t["m500c"].unit = "solMass"
    return t


@pytest.fixture(scope="package")
def registry(tmp_path_factory, mlflow_template):
    """A real MLflow registry with the CNN and the ensemble registered; yields the tracking URI.

    ``MLFLOW_TRACKING_URI`` points at it while the tests of this folder run.
    """
    from skysieve.ensemble import Ensembles
    from skysieve.registry import log_cnn_model, register_ensemble, register_model_version
    from skysieve.tasks.sz._catalog_config import catalog_documents

    root = tmp_path_factory.mktemp("registry")
    uri = new_mlflow_store(mlflow_template, root)
    with isolated_global_state():  # until the package's tests end
        os.environ["MLFLOW_TRACKING_URI"] = uri
        mlflow.set_tracking_uri(uri)
        exp = mlflow.create_experiment("catalog-test", artifact_location=(root / "mlartifacts").as_uri())
        models_dir = save_cnn(root / "models" / "sz" / "cnn")
        provenance = {"git.commit": "c0ffee", "git.dirty": "false", "data.data/sz/cutouts.md5": "feedbeef.dir"}
        with mlflow.start_run(experiment_id=exp, run_name="register"):
            cnn_uri = log_cnn_model(models_dir)
            cnn_mv = register_model_version(cnn_uri, CNN, task="sz", test_metrics={"cnn": {"f1": 0.5}},
                                            thresholds={"cnn": THRESHOLDS["cnn"]}, provenance=provenance,
                                            primary_method="cnn")
            rng = np.random.default_rng(0)
            ens = Ensembles.from_state(THRESHOLDS, {"cnn_prob": np.linspace(0.0, 1.0, 1001),
                                                    "mf_snr": rng.normal(0.0, 1.0, 4000)})
            metrics = {m: {"f1": 0.6, "purity": 0.7, "completeness": 0.5}
                       for m in ("mf", "cnn", "and", "rank_product")}
            mv = register_ensemble(ens, ENSEMBLE, task="sz", test_metrics=metrics, provenance=provenance,
                                   cnn_model_uri=f"models:/{CNN}/{cnn_mv.version}",
                                   documents=catalog_documents(catalog_params()))
        yield {"uri": uri, "version": str(mv.version), "run_id": mv.run_id, "cnn_version": str(cnn_mv.version),
               "models_dir": models_dir, "experiment": exp}


@pytest.fixture(scope="package")
def loaded_model(registry):
    """The registered ensemble, resolved and loaded once (``models:/…@candidate``)."""
    from skysieve.tasks.sz._catalog_model import load_catalog_model

    return load_catalog_model(f"models:/{ENSEMBLE}@candidate")


@pytest.fixture(scope="package")
def sky_files(tmp_path_factory) -> list[Path]:
    """The three band maps of the tiny sky."""
    return paint_sky(tmp_path_factory.mktemp("sky"))


@pytest.fixture(scope="package")
def sky_wcs(sky_files):
    from skysieve.data import read_maps

    return read_maps(sky_files).wcs


@pytest.fixture(scope="package")
def catalog_result(sky_files, loaded_model, sky_wcs):
    """The catalog of the tiny sky, with the truth table."""
    from skysieve.tasks.sz.catalog import make_catalog

    return make_catalog(sky_files, model=loaded_model, truth=truth_table(sky_wcs))


# ---------------------------------------------------------------------------------------------------------------
# The lens task: a real 3-band CNN registered by the real `skysieve register lens`
# ---------------------------------------------------------------------------------------------------------------

LENS = "test-lens-cnn"
LENS_CHANNELS = ("F435W", "F606W", "F814W")
LENS_SIZE = 16  # px
LENS_PIXEL_ARCSEC = 0.06
LENS_THRESHOLD = 0.5
LENS_PARAMS_YAML = f"""
simulate_lens:
  size_px: {LENS_SIZE}
  pixel_arcsec: {LENS_PIXEL_ARCSEC}
cutouts_lens:
  channels: [{", ".join(LENS_CHANNELS)}]
register_lens:
  model_name: {LENS}
"""


def lens_reference() -> np.ndarray:
    """The validation scores registered as the reference distribution (ties included)."""
    rng = np.random.default_rng(11)
    return np.concatenate([rng.beta(0.6, 0.6, 397), [0.5, 0.5, 0.5]])


def build_lens_cnn(seed: int):
    """A real Keras model (16×16×3 → probability) with hand-set weights: the sigmoid of a fixed random linear
    map of every pixel of every band, so the score moves with any pixel of any band (a shifted or mis-ordered
    crop changes it)."""
    import keras

    inputs = keras.Input((LENS_SIZE, LENS_SIZE, len(LENS_CHANNELS)))
    x = keras.layers.Flatten()(inputs)
    out = keras.layers.Dense(1, activation="sigmoid", name="prob")(x)
    model = keras.Model(inputs, out)
    n = LENS_SIZE * LENS_SIZE * len(LENS_CHANNELS)
    w = np.random.default_rng(seed).normal(0.0, 1.5 / np.sqrt(n), (n, 1)).astype(np.float32)
    model.get_layer("prob").set_weights([w, np.zeros(1, np.float32)])
    return model


def save_lens_cnn(directory: Path) -> Path:
    """Two fold models and an identity Platt calibrator, saved as ``skysieve train`` saves them."""
    from skysieve.train import FoldEnsemble, PlattCalibrator

    calibrator = PlattCalibrator.from_dict({"a": 1.0, "b": 0.0, "n_fit": 0})
    ens = FoldEnsemble([build_lens_cnn(1), build_lens_cnn(2)], calibrator,
                       metadata={"task": "lens", "net": "hand-set", "channels": list(LENS_CHANNELS),
                                 "input_shape": [LENS_SIZE, LENS_SIZE, len(LENS_CHANNELS)]})
    return ens.save(directory)


@pytest.fixture(scope="package")
def lens_registry(registry, tmp_path_factory):
    """The lens CNN registered with ``skysieve register lens`` (the CLI) in the same registry as the SZ ensemble.

    Yields ``name``, ``version``, ``run_id``, ``uri`` (``models:/test-lens-cnn@candidate``), ``models_dir``.
    """
    import json

    from typer.testing import CliRunner

    from skysieve.cli import build_app

    root = tmp_path_factory.mktemp("lens-registry")
    models_dir = save_lens_cnn(root / "models" / "lens" / "cnn")
    (root / "params.yaml").write_text(LENS_PARAMS_YAML)
    data = root / "data" / "lens" / "cutouts"
    data.mkdir(parents=True)
    (data / "cutouts.h5").write_bytes(b"stand-in for the training cutouts")
    metrics = {"f1": 0.8, "purity": 0.85, "completeness": 0.75, "roc_auc": 0.9}
    state = {"task": "lens", "operating_point": "fixed",
             "thresholds": {"cnn": LENS_THRESHOLD, "cnn.fixed": LENS_THRESHOLD, "cnn.crossing": 0.6, "cnn.f1": 0.55},
             "references": {"cnn_prob": lens_reference().tolist()}, "test_metrics": {"cnn": metrics}}
    (root / "evaluation.json").write_text(json.dumps(state))
    mp = pytest.MonkeyPatch()
    mp.chdir(root)  # the `lens` experiment keeps its artifacts in ./mlartifacts
    try:
        with isolated_global_state():  # the CLI sets MPLCONFIGDIR etc. under ./ for the rest of the process
            result = CliRunner().invoke(build_app(), ["register", "lens", "--params", "params.yaml", "--model",
                                                      str(models_dir), "--state", "evaluation.json", "--data",
                                                      str(data), "--out", "registered.json"])
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    record = json.loads((root / "registered.json").read_text())["cnn"]
    yield {"name": LENS, "version": record["version"], "run_id": record["run_id"], "models_dir": models_dir,
           "uri": f"models:/{LENS}@candidate"}


@pytest.fixture(scope="package")
def lens_model(lens_registry):
    """The registered lens classifier, resolved and loaded once."""
    from skysieve.tasks.lens.catalog import load_lens_catalog_model

    return load_lens_catalog_model(lens_registry["uri"])
