"""A toy search in one module: Gaussian blobs against white noise (the search plug-in issue's proof).

Everything a search gives the engine is here and nowhere else: its params
sections, stages, commands (simulate, cutouts, validate, evaluate, register)
and catalog inputs. The engine finds it through ``$SKYSIEVE_TASKS`` or
:func:`skysieve.tasks.register_search`; no engine file names it. Tune and
train are the engine's generic commands over ``tune_blobs`` / ``train_blobs``.
"""

import inspect
import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from pydantic import Field

from skysieve.cli import ParamsOption, finish_validation
from skysieve.config import Section, TrainParams, TuneParams, ValidateParams
from skysieve.tasks import Command, Search, SectionSpec, Stage

NAME = "blobs"
PIXEL_DEG = 1.0 / 3600.0
CHANNELS = ("flux",)


class SimulateBlobsParams(Section):
    """``simulate_blobs``: n stamps of white noise, a fraction holding a centred Gaussian blob."""

    n: int = Field(320, ge=20)
    size_px: int = Field(16, ge=8)
    positive_fraction: float = Field(0.4, gt=0, lt=1)
    amplitude: float = Field(5.0, gt=0, description="blob peak in units of the noise σ")
    sigma_px: float = Field(2.0, gt=0)
    seed: int = 11


class CutoutsBlobsParams(Section):
    """``cutouts_blobs``: stamps become a dataset split by position along RA."""

    val_frac: float = Field(0.2, gt=0, lt=0.5)
    test_frac: float = Field(0.25, gt=0, lt=0.5)
    groups: int = Field(6, ge=2)


class RegisterBlobsParams(Section):
    """``register_blobs``: the registered model's name."""

    model_name: str = "toy-blobs-cnn"


def _train_defaults() -> TrainParams:
    return TrainParams.model_validate({
        "net": {"name": "resnet_small", "stem_filters": 4, "width": 2, "stages": 2, "dense_units": 8},
        "optimizer": {"name": "adam", "learning_rate": 3e-3}, "batch_size": 32, "eval_batch_size": 128,
        "epochs": 8, "k_folds": 2, "splitter": "group_kfold", "norm_sample": 64, "seed": 5, "metric": "roc_auc"})


def _tune_defaults() -> TuneParams:
    return TuneParams.model_validate({"n_trials": 1, "startup_trials": 1, "objective": "roc_auc",
                                      "search_space": {"optimizer.learning_rate": {"type": "float", "low": 2e-3,
                                                                                   "high": 4e-3}}})


def _blob(size: int, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    return np.exp(-(xx**2 + yy**2) / (2 * sigma**2))


def simulate_blobs(cfg: SimulateBlobsParams, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(stamps of shape (n, size, size), labels): unit white noise plus ``amplitude`` × a Gaussian on positives."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(cfg.n) < cfg.positive_fraction).astype(np.int16)
    stamps = rng.normal(0.0, 1.0, (cfg.n, cfg.size_px, cfg.size_px)).astype(np.float32)
    stamps[labels == 1] += (cfg.amplitude * _blob(cfg.size_px, cfg.sigma_px)).astype(np.float32)
    return stamps, labels


# -- commands (thin edges) ---------------------------------------------------------------------------------------------


def simulate(params: ParamsOption = Path("params.yaml"),
             out: Annotated[Path, typer.Option(help="output: stamps.npz")] = Path("data/blobs/sim")) -> None:
    """Simulate blob stamps (section: simulate_blobs)."""
    from skysieve._io import atomic_path
    from skysieve.config import load_params

    cfg = load_params(params).simulate_blobs
    stamps, labels = simulate_blobs(cfg, seed=cfg.seed)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        np.savez(tmp / "stamps.npz", stamps=stamps, labels=labels)
    typer.echo(f"wrote {out}: {len(labels)} stamps, {int(labels.sum())} blobs")


def cutouts(params: ParamsOption = Path("params.yaml"),
            sim: Annotated[Path, typer.Option(help="from `skysieve simulate blobs`")] = Path("data/blobs/sim"),
            out: Annotated[Path, typer.Option(help="dataset directory")] = Path("data/blobs/cutouts")) -> None:
    """Write the cutout dataset (cutouts.h5 + catalog.fits) with RA-ordered splits (section: cutouts_blobs)."""
    import h5py
    from astropy.table import Table

    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.data.dataset import IMAGES_KEY
    from skysieve.errors import DataError

    cfg = load_params(params).cutouts_blobs
    if not (sim / "stamps.npz").is_file():
        raise DataError(f"{sim / 'stamps.npz'}: not found; run `skysieve simulate blobs --out {sim}` first")
    data = np.load(sim / "stamps.npz")
    stamps, labels = data["stamps"], data["labels"]
    n = len(labels)
    ra = 10.0 + np.arange(n) * 0.01
    frac = np.arange(n) / n
    split = np.where(frac < cfg.test_frac, "test", np.where(frac < cfg.test_frac + cfg.val_frac, "val", "train"))
    group = (np.arange(n) * cfg.groups // n).astype(np.int32)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        with h5py.File(tmp / "cutouts.h5", "w") as h5:
            ds = h5.create_dataset(IMAGES_KEY, data=stamps[..., None], chunks=(1, *stamps.shape[1:], 1))
            ds.attrs["channels"] = list(CHANNELS)
            ds.attrs["unit"] = "sigma"
        Table({"id": np.arange(n), "ra": ra, "dec": np.zeros(n), "label": labels, "split": split,
               "group": group}).write(tmp / "catalog.fits")
    typer.echo(f"wrote {out}: {n} cutouts")


def validate(params: ParamsOption = Path("params.yaml"),
             data: Annotated[Path, typer.Option(help="dataset directory")] = Path("data/blobs/cutouts"),
             report: Annotated[Path, typer.Option(help="JSON report")] = Path("data/blobs/validation.json")) -> None:
    """The engine's dataset suites (section: validate_blobs)."""
    from skysieve.config import load_params
    from skysieve.data import open_dataset, validate_dataset

    p = load_params(params)
    result = validate_dataset(open_dataset(data), p.validate_blobs, expected_channels=CHANNELS,
                              size_px=p.simulate_blobs.size_px)
    finish_validation(result, report)


def evaluate(params: ParamsOption = Path("params.yaml"),
             data: Annotated[Path, typer.Option(help="dataset directory")] = Path("data/blobs/cutouts"),
             model: Annotated[Path, typer.Option(help="trained model")] = Path("models/blobs/cnn"),
             state: Annotated[Path, typer.Option(help="output: thresholds, references, metrics")] = Path(
                 "models/blobs/evaluation.json")) -> None:
    """F1-best threshold on validation, metrics on test (no section of its own)."""
    from skysieve._io import atomic_path
    from skysieve.data import open_dataset
    from skysieve.evaluate import evaluate_scores, score_cutouts
    from skysieve.train import load_trained

    table = score_cutouts(open_dataset(data), load_trained(model))
    split, label, score = (np.asarray(table[c]) for c in ("split", "label", "cnn_prob"))
    val, test = split == "val", split == "test"
    result = evaluate_scores(label[val], score[val], label[test], score[test], method="cnn")
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps({"thresholds": {"cnn": result.thresholds["cnn"]},
                                   "references": {"cnn_prob": score[val].tolist()},
                                   "test_metrics": {"cnn": result.test.as_dict()}}))
    typer.echo(f"test ROC-AUC {result.test.roc_auc:.3f}, F1 {result.test.counts.f1:.3f}")


def register(params: ParamsOption = Path("params.yaml"),
             model: Annotated[Path, typer.Option(help="trained model")] = Path("models/blobs/cnn"),
             state: Annotated[Path, typer.Option(help="from `skysieve evaluate blobs`")] = Path(
                 "models/blobs/evaluation.json"),
             data: Annotated[Path, typer.Option(help="dataset (for the data hash)")] = Path("data/blobs/cutouts"),
             ) -> None:
    """Register the model as candidate (section: register_blobs)."""
    from skysieve._tracking import configure_mlflow, provenance
    from skysieve.config import load_params
    from skysieve.registry import register_cnn

    p = load_params(params)
    configure_mlflow()
    record = register_cnn(task=NAME, models_dir=model, name=p.register_blobs.model_name,
                          state=json.loads(state.read_text()), provenance=provenance([data]),
                          params=p.train_blobs, tags={"blobs.size_px": str(p.simulate_blobs.size_px)})
    typer.echo(f"registered {record['name']} version {record['version']}")


# -- catalog: blobs in a large FITS image ------------------------------------------------------------------------------


def make_catalog(ref, *, out, options, given, truth, batch_size, progress, echo) -> None:
    """Score every tile of ``--image`` (one FITS image, celestial WCS) and write ra, dec, score, is_blob."""
    from astropy.io import fits
    from astropy.table import Table
    from astropy.wcs import WCS

    from skysieve.catalog import (
        CatalogResult,
        code_version,
        file_sha256,
        iter_tile_batches,
        load_pyfunc,
        tile_grid,
        write_catalog,
    )
    from skysieve.errors import ConfigError, DataError

    image = options["image"]
    if image is None:
        raise ConfigError(f"{ref.where} finds blobs: give --image IMAGE.fits")
    if not image.is_file():
        raise DataError(f"{image}: not found; give a FITS image with a celestial WCS")
    with fits.open(image) as hdul:
        data = np.asarray(hdul[0].data, dtype=np.float32)
        wcs = WCS(hdul[0].header)
    size = int(ref.tags["blobs.size_px"])
    grid = tile_grid(data.shape, size_px=size, central_px=size // 2, stride_px=size // 2)
    cnn = load_pyfunc(f"models:/{ref.name}/{ref.version}", "blob classifier")
    ids, scores = [], []
    for batch in iter_tile_batches(data[None], grid, batch_size=batch_size):
        ids.append(batch.ids)
        scores.append(np.asarray(cnn.predict_proba(batch.images)).ravel())
    ids, score = np.concatenate(ids), np.concatenate(scores)
    threshold = float(ref.tags["threshold.cnn"])
    cy, cx = grid.y0[ids // grid.ntx] + (size - 1) / 2, grid.x0[ids % grid.ntx] + (size - 1) / 2
    ra, dec = wcs.wcs_pix2world(cx, cy, 0)
    table = Table({"ra": ra, "dec": dec, "score": score, "is_blob": score >= threshold})
    table.meta.update({"MODEL": ref.name, "MODELVER": ref.version, "THR_CNN": threshold,
                       "IMG_SHA": file_sha256(image)[:64], "CODEVER": code_version()["skysieve"]})
    write_catalog(CatalogResult(table=table, summary={"n_tiles": len(table)}), out)
    echo(f"wrote {out}: {len(table)} tiles, {int(table['is_blob'].sum())} blobs")


class BlobSearch(Search):
    """Gaussian blobs against white noise: the smallest complete search."""

    name = NAME
    title = "Gaussian blobs against white noise (the test suite's toy search)"
    paper = "none: a plug-in example"
    doc = "docs/architecture.md"

    def sections(self):
        return (
            SectionSpec("simulate_blobs", SimulateBlobsParams),
            SectionSpec("cutouts_blobs", CutoutsBlobsParams),
            SectionSpec("validate_blobs", ValidateParams,
                        lambda: ValidateParams(label_rate_min=0.2, label_rate_max=0.6, max_abs_pixel_uk=100.0)),
            SectionSpec("tune_blobs", TuneParams, _tune_defaults, merge_defaults=True),
            SectionSpec("train_blobs", TrainParams, _train_defaults, merge_defaults=True),
            SectionSpec("register_blobs", RegisterBlobsParams),
        )

    def stages(self):
        return (
            Stage("simulate_blobs", "simulate", NAME, ("simulate_blobs",)),
            Stage("cutouts_blobs", "cutouts", NAME, ("cutouts_blobs",)),
            Stage("validate_blobs", "validate", NAME, ("validate_blobs", "simulate_blobs.size_px")),
            Stage("tune_blobs", "tune", NAME, ("tune_blobs", "train_blobs")),
            Stage("train_blobs", "train", NAME, ("train_blobs",)),
            Stage("evaluate_blobs", "evaluate", NAME, ()),
            Stage("register_blobs", "register", NAME, ("register_blobs", "train_blobs", "simulate_blobs.size_px")),
        )

    def commands(self):
        return tuple(Command(verb, NAME, func) for verb, func in (
            ("simulate", simulate), ("cutouts", cutouts), ("validate", validate), ("evaluate", evaluate),
            ("register", register)))

    def model_names(self, params):
        return (params.register_blobs.model_name,)

    def catalog_options(self):
        return (inspect.Parameter("image", inspect.Parameter.KEYWORD_ONLY, default=None,
                                  annotation=Annotated[Path | None, typer.Option(
                                      help="blobs: one FITS image with a celestial WCS")]),)

    def catalog_help(self):
        return "--image takes one FITS image; every half-overlapping tile is scored."

    def make_catalog(self, ref, **kwargs):
        make_catalog(ref, **kwargs)


search = BlobSearch()
