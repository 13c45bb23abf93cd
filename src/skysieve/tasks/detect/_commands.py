"""The ``detect`` search's commands (thin edges): simulate, cutouts, validate, evaluate, register, inject."""

import json
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli import ParamsOption
from skysieve.tasks import Command

__all__ = ["commands"]

SEARCH = "detect"
_SIM, _DATA, _MODEL = Path("data/detect/sim"), Path("data/detect/cutouts"), Path("models/detect/cnn")
_STATE = Path("models/detect/evaluation.json")


def simulate_detect(
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="output directory: fields/*.fits, truth.fits, fields.fits")] = _SIM,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    workers: Annotated[int, typer.Option(help="worker processes (0: one per CPU); the fields do not depend on it",
                                         min=0)] = 0,
) -> None:
    """Simulate SDSS-like g, r, i fields: 0–3 clusters, galaxies, stars (sections: cosmology, simulate_detect)."""
    import time

    from skysieve._cpus import available_cpus
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.tasks.detect._write import simulate_fields

    p = load_params(params)
    cfg = p.simulate_detect
    n_workers = workers or available_cpus()
    t0 = time.perf_counter()
    with atomic_path(out) as tmp:
        fields, truth = simulate_fields(cfg, cosmo=p.cosmology, out_dir=tmp, seed=cfg.seed, progress=progress,
                                        workers=n_workers)
    typer.echo(f"wrote {out}: {len(fields)} fields ({int((fields['n_clusters'] == 0).sum())} blank), "
               f"{len(truth)} clusters, in {time.perf_counter() - t0:.0f} s on {n_workers} workers")


def cutouts_detect(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="from `skysieve simulate detect`")] = _SIM,
    out: Annotated[Path, typer.Option(help="dataset directory: cutouts.h5 (images + targets), catalog.fits")] = _DATA,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Stretch the fields and write the dataset with centre-heatmap targets and splits (section: cutouts_detect).

    ``clusters.fits`` in the dataset carries each cluster's centre and kpc per pixel (sections: cosmology) and the
    scoring of evaluate_detect, for the per-epoch validation metric ``detect.detection_f1``.
    """
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.tasks.detect.dataset import build_dataset

    p = load_params(params)
    bands = tuple(b.name for b in p.simulate_detect.bands)
    with atomic_path(out) as tmp:
        counts = build_dataset(sim, tmp, p.cutouts_detect, bands=bands, scoring=p.evaluate_detect,
                               cosmo=p.cosmology, progress=progress)
    typer.echo(f"wrote {out}: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + " fields")


def validate_detect(
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="dataset directory")] = _DATA,
    sim: Annotated[Path, typer.Option(help="simulation (truth.fits)")] = _SIM,
    report: Annotated[Path, typer.Option(help="JSON report (and .md)")] = Path("data/detect/validation.json"),
) -> None:
    """The engine's dataset suites plus the fields / truth / boxes / targets suites (section: validate_detect)."""
    from astropy.table import Table

    from skysieve.cli import finish_validation
    from skysieve.config import load_params
    from skysieve.data import open_dataset, validate_dataset
    from skysieve.errors import DataError
    from skysieve.tasks.detect.validation import validate_detect as detect_suites

    p = load_params(params)
    s = p.simulate_detect
    dataset = open_dataset(data)
    if not (sim / "truth.fits").is_file():
        raise DataError(f"{sim / 'truth.fits'}: not found; run `skysieve simulate detect --out {sim}`")
    size = s.native_size_px // s.bin
    result = validate_dataset(dataset, p.validate_detect, expected_channels=tuple(b.name for b in s.bands),
                              size_px=size)
    detect_suites(dataset, Table.read(sim / "truth.fits"), result, size_px=size, z_range=s.cluster.z_range,
                  log_m200_range=s.cluster.log_m200_range, richness_range=s.cluster.richness_range)
    finish_validation(result, report)


def evaluate_detect(
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="dataset directory")] = _DATA,
    sim: Annotated[Path, typer.Option(help="simulation (truth.fits)")] = _SIM,
    model: Annotated[Path, typer.Option(help="trained model directory")] = _MODEL,
    state: Annotated[Path, typer.Option(help="output: threshold, reference scores, test metrics (JSON)")] = _STATE,
    out: Annotated[Path, typer.Option(help="output: metrics.json, table.md, table2.csv, detections.fits")] = Path(
        "reports/detect/evaluate"),
) -> None:
    """Chan & Stott's scoring: 100 kpc matching, Table 2, centre error, KS, COCO mAP, blank-field purity.

    Sections: cosmology, simulate_detect, cutouts_detect, evaluate_detect.
    """
    import mlflow
    from astropy.table import Table

    from skysieve._io import atomic_path
    from skysieve._tracking import configure_mlflow, experiment_id, log_provenance, provenance
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.tasks.detect.report import evaluate_detect as run_evaluation
    from skysieve.tasks.detect.report import write_report
    from skysieve.train import load_trained

    p = load_params(params)
    s = p.simulate_detect
    ev, det = run_evaluation(open_dataset(data), load_trained(model).models, Table.read(sim / "truth.fits"),
                             cosmo=p.cosmology, pixel_arcsec=s.native_pixel_arcsec * s.bin,
                             stride=p.cutouts_detect.output_stride, cfg=p.evaluate_detect)
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps(ev.state(), indent=1) + "\n")
    with atomic_path(out) as tmp:
        write_report(ev, tmp)
        det.write(tmp / "detections.fits")
    configure_mlflow()
    with mlflow.start_run(experiment_id=experiment_id(SEARCH), run_name="evaluate") as run:
        log_provenance(run.info.run_id, provenance=provenance([data, model]), params=p.evaluate_detect,
                       data_context="evaluation")
        t = ev.test
        mlflow.log_metrics({f"test_{k}": float(t[k]) for k in ("precision", "recall", "f1", "centre_rms_kpc")
                            if t[k] == t[k]} | {"threshold": ev.threshold})
        mlflow.log_artifacts(str(out), "report")
    typer.echo((out / "table.md").read_text())
    typer.echo(f"wrote {state} and {out}/ (MLflow run {run.info.run_id})")


def register_detect(
    params: ParamsOption = Path("params.yaml"),
    model: Annotated[Path, typer.Option(help="trained model directory")] = _MODEL,
    state: Annotated[Path, typer.Option(help="from `skysieve evaluate detect`")] = _STATE,
    data: Annotated[Path, typer.Option(help="data the model was evaluated on (for the data hash)")] = _DATA,
    out: Annotated[Path, typer.Option(help="output: JSON record of the registered name and version")] = Path(
        "models/detect/registered.json"),
) -> None:
    """Register the detector with its test metrics, threshold and catalog tags, alias `candidate`.

    Section: register_detect (the version records every detect section).
    """
    from skysieve._io import atomic_path
    from skysieve._tracking import configure_mlflow, provenance
    from skysieve.config import load_params
    from skysieve.errors import DataError
    from skysieve.registry import read_cnn_manifest, register_cnn
    from skysieve.tasks.detect._catalog import catalog_tags

    p = load_params(params)
    if not state.is_file():
        raise DataError(f"{state}: not found; run `skysieve evaluate detect --state {state}` first")
    manifest = read_cnn_manifest(model)
    recorded = {k: v for k, v in p.model_dump(mode="json").items() if k.endswith("_detect") or k == "cosmology"}
    recorded["train_detect"] = manifest.get("params", recorded["train_detect"])
    configure_mlflow()
    record = register_cnn(task=SEARCH, models_dir=model, name=p.register_detect.model_name,
                          state=json.loads(state.read_text()), provenance=provenance([data]), params=recorded,
                          tags=catalog_tags(p, manifest))
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps({"cnn": record}, indent=2) + "\n")
    typer.echo(f"registered {record['name']} version {record['version']} (alias candidate); "
               f"promote with: skysieve promote {record['name']}")


def inject_detect(
    params: ParamsOption = Path("params.yaml"),
    registered: Annotated[Path, typer.Option(help="from `skysieve register detect`")] = Path(
        "models/detect/registered.json"),
    out: Annotated[Path, typer.Option(help="output: completeness.json, completeness.md")] = Path(
        "reports/detect/inject"),
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Injection–recovery: completeness vs M200 and z of the registered version, logged on it.

    Sections: cosmology, simulate_detect, cutouts_detect, evaluate_detect, inject_detect.
    """
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.errors import DataError
    from skysieve.tasks.detect._inject import log_completeness, run_injection, write_completeness

    p = load_params(params)
    if not registered.is_file():
        raise DataError(f"{registered}: not found; run `skysieve register detect` first")
    record = json.loads(registered.read_text())["cnn"]
    result = run_injection(p, name=record["name"], version=record["version"], progress=progress)
    with atomic_path(out) as tmp:
        write_completeness(result, tmp)
    run_id = log_completeness(result, name=record["name"], version=record["version"], out=out)
    typer.echo((out / "completeness.md").read_text())
    typer.echo(f"wrote {out}/ (MLflow run {run_id}, tags on {record['name']} v{record['version']})")


def commands() -> tuple[Command, ...]:
    """Every command of the search, in the order data flows."""
    return (
        Command("simulate", SEARCH, simulate_detect),
        Command("cutouts", SEARCH, cutouts_detect),
        Command("validate", SEARCH, validate_detect),
        Command("evaluate", SEARCH, evaluate_detect),
        Command("register", SEARCH, register_detect),
        Command("inject", SEARCH, inject_detect, help="Injection–recovery: completeness of a registered model against mass and redshift."),
    )
