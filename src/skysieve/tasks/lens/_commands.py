"""The commands of the ``lens`` search: ``skysieve <verb> lens`` for every stage but tune and train.

Each is a thin edge: parse paths, load its params section, call one library
function, write outputs atomically.  Heavy libraries are imported inside.
"""

import json
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli import ParamsOption, finish_validation
from skysieve.tasks import Command

__all__ = ["commands"]

#: The search these commands serve (its MLflow experiment and registry tag).
SEARCH = "lens"


def simulate_lens(
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="output directory: stamps.h5 + truth.fits")] = Path("data/lens/sim"),
    workers: Annotated[int, typer.Option(help="worker processes (0: one per CPU); results do not depend on it",
                                         min=0)] = 0,
) -> None:
    """Simulate HST-like member cutouts with and without lensed sources (sections: cosmology, simulate_lens)."""
    import time

    import numpy as np

    from skysieve._cpus import available_cpus
    from skysieve.config import load_params
    from skysieve.tasks.lens.sim import write_lens_simulation

    p = load_params(params)
    cfg = p.simulate_lens
    n_workers = workers or available_cpus()
    t0 = time.perf_counter()
    truth = write_lens_simulation(cfg, p.cosmology, out, seed=cfg.seed, workers=n_workers, progress=True)
    kinds, counts = np.unique(np.asarray(truth["kind"], dtype=str), return_counts=True)
    typer.echo(f"wrote {out}: {len(truth)} cutouts of {cfg.size_px}×{cfg.size_px} px in "
               f"{[b.name for b in cfg.bands]}, {int(truth['label'].sum())} lenses "
               f"({', '.join(f'{k} {c}' for k, c in zip(kinds, counts))}) in {time.perf_counter() - t0:.0f} s "
               f"on {n_workers} workers")


def cutouts_lens(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate lens`")] = Path("data/lens/sim"),
    out: Annotated[Path, typer.Option(help="output directory: cutouts.h5 + catalog.fits")] = Path(
        "data/lens/cutouts"),
) -> None:
    """Pick channels; assign val/test hold-outs by label and lens group (section: cutouts_lens)."""
    import numpy as np

    from skysieve.config import load_params
    from skysieve.tasks.lens.cutouts import make_lens_cutouts

    cfg = load_params(params).cutouts_lens
    catalog = make_lens_cutouts(sim, out, cfg)
    split = np.asarray(catalog["split"], dtype=str)
    label = np.asarray(catalog["label"])
    per = ", ".join(f"{s} {int((split == s).sum())} ({int(label[split == s].sum())} lenses)"
                    for s in ("train", "val", "test"))
    typer.echo(f"wrote {out}: {len(catalog)} cutouts, channels {catalog.meta['CHANNELS']}; {per}")


def validate_lens(
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="cutout directory from `skysieve cutouts lens`")] = Path(
        "data/lens/cutouts"),
    report: Annotated[Path, typer.Option(help="JSON report (a Markdown twin is written beside it)")] = Path(
        "data/lens/validation.json"),
) -> None:
    """Check ids, splits, groups, label rate, pixels, shapes and lens truth (section: validate_lens)."""
    from skysieve.config import load_params
    from skysieve.data import open_dataset, validate_dataset
    from skysieve.tasks.lens.validation import validate_lens_catalog

    p = load_params(params)
    sim = p.simulate_lens
    dataset = open_dataset(data)
    channels = p.cutouts_lens.channels or tuple(b.name for b in sim.bands)
    result = validate_dataset(dataset, p.validate_lens, expected_channels=tuple(channels), size_px=sim.size_px)
    validate_lens_catalog(dataset.catalog, result, theta_e_range_arcsec=sim.members.theta_e_range_arcsec,
                          src_mag_max=sim.sources.mag_range[1], dz_min=sim.sources.dz_min,
                          reference_band=sim.reference_band)
    finish_validation(result, report)


def evaluate_lens(
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="cutout directory")] = Path("data/lens/cutouts"),
    model: Annotated[Path, typer.Option(help="trained CNN directory (with oof.fits)")] = Path("models/lens/cnn"),
    scores: Annotated[Path, typer.Option(help="output: per-cutout scores and truth for val and test")] = Path(
        "data/lens/scores.fits"),
    state: Annotated[Path, typer.Option(help="output: thresholds, reference scores, test metrics (JSON)")] = Path(
        "models/lens/evaluation.json"),
    out: Annotated[Path, typer.Option(help="output: metrics.json, table.md, tables (CSV), plots (PNG)")] = Path(
        "reports/lens/evaluate"),
) -> None:
    """Angora et al. (2023) tables: both classes, fold spread, FN/FP rates by property (section: evaluate_lens)."""
    import numpy as np
    from astropy.table import Table

    from skysieve._io import atomic_path
    from skysieve._tracking import provenance
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.evaluate import log_report_run, score_cutouts
    from skysieve.tasks.lens._gallery import write_error_galleries
    from skysieve.tasks.lens.evaluate import align_truth, evaluate_lens, lens_truth
    from skysieve.tasks.lens.report import write_lens_report
    from skysieve.train import load_trained

    p = load_params(params)
    dataset = open_dataset(data)
    table = score_cutouts(dataset, load_trained(model))
    truth = lens_truth(dataset.catalog, p.evaluate_lens)
    oof = Table.read(model / "oof.fits") if (model / "oof.fits").is_file() else None
    ev = evaluate_lens(table, truth, params=p.evaluate_lens, oof=oof)
    table["lens_colour_norm"] = align_truth(truth, np.asarray(table["id"]))["lens_colour"]
    with atomic_path(scores) as tmp:
        table.write(tmp, format="fits")
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps(ev.state(), indent=1) + "\n")
    with atomic_path(out) as tmp:
        files = write_lens_report(ev, tmp, max_curve_points=p.evaluate_lens.max_curve_points)
        files.pngs.update({f"gallery_{k}": v for k, v in write_error_galleries(
            dataset, table, threshold=ev.threshold, n=p.evaluate_lens.gallery_size, out_dir=tmp).items()})
        run_id = log_report_run("evaluate", files, provenance=provenance([data, model]), params=p.evaluate_lens,
                                experiment=SEARCH)
    typer.echo((out / "table.md").read_text())
    t = ev.result.test
    typer.echo(f"threshold {ev.threshold:.4g} ({ev.operating_point}), test ({t.n_pos} lenses, {t.n_neg} non-lenses; "
               f"95 % bootstrap): purity {t.format('purity', digits=3)}, completeness "
               f"{t.format('completeness', digits=3)}, F1 {t.format('f1', digits=3)}, "
               f"ROC-AUC {t.format('roc_auc', digits=3)}")
    typer.echo(f"wrote {scores}, {state} and {out}/ (MLflow run {run_id})")


def register_lens(
    params: ParamsOption = Path("params.yaml"),
    model: Annotated[Path, typer.Option(help="trained CNN directory")] = Path("models/lens/cnn"),
    state: Annotated[Path, typer.Option(help="thresholds/references/metrics from `skysieve evaluate lens`")] = Path(
        "models/lens/evaluation.json"),
    data: Annotated[list[Path], typer.Option(help="data the model was evaluated on (for the data hash)")] = [
        Path("data/lens/cutouts")],
    out: Annotated[Path, typer.Option(help="output: JSON record of the registered name and version")] = Path(
        "models/lens/registered.json"),
) -> None:
    """Register the lens CNN with its test metrics and thresholds, alias `candidate` (section: register_lens).

    The version also carries the lens catalog config (bands, zero points, pixel scale, cutout size, unit)
    that `skysieve catalog` checks new cutouts against. Promotion to `champion` is a separate, checked
    step: `skysieve promote NAME`.
    """
    from skysieve._io import atomic_path
    from skysieve._tracking import configure_mlflow, provenance
    from skysieve.config import load_params
    from skysieve.errors import DataError
    from skysieve.registry import read_cnn_manifest, register_cnn
    from skysieve.tasks.lens._catalog_config import (
        LensCatalogConfig,
        lens_catalog_config_from_params,
        lens_catalog_documents,
    )

    p = load_params(params)
    if not state.is_file():
        raise DataError(f"{state}: not found; run `skysieve evaluate lens --state {state}` first")
    manifest = read_cnn_manifest(model)
    mismatch = LensCatalogConfig.model_validate(lens_catalog_config_from_params(p)).cnn_mismatch(
        manifest["channels"], manifest["input_shape"])
    if mismatch:
        raise DataError(f"{model}: {mismatch} (from {params}: simulate_lens.size_px, cutouts_lens.channels); "
                        "register with the params it was trained with")
    # the lens sections, with train_lens as actually trained (tuned overrides applied)
    recorded = {k: v for k, v in p.model_dump(mode="json").items() if k.endswith("_lens") or k == "cosmology"}
    recorded["train_lens"] = manifest.get("params", recorded["train_lens"])
    recorded["tuned"] = manifest.get("tuned", {})
    configure_mlflow()
    record = register_cnn(task=SEARCH, models_dir=model, name=p.register_lens.model_name,
                          state=json.loads(state.read_text()), provenance=provenance(data), params=recorded,
                          documents=lens_catalog_documents(p))
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps({"cnn": record}, indent=2) + "\n")
    typer.echo(f"registered cnn: {record['name']} version {record['version']} (alias candidate)")
    typer.echo(f"promote with: skysieve promote {record['name']}")


def commands() -> tuple[Command, ...]:
    """Every command of the search, in the order data flows."""
    return (
        Command("simulate", "lens", simulate_lens),
        Command("cutouts", "lens", cutouts_lens),
        Command("validate", "lens", validate_lens),
        Command("evaluate", "lens", evaluate_lens),
        Command("register", "lens", register_lens),
    )
