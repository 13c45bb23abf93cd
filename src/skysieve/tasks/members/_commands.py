"""The commands of the ``members`` search: ``skysieve <verb> members`` for every stage but tune and train.

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
SEARCH = "members"


def simulate_members(
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="output directory: stamps.h5 + truth.fits")] = Path("data/members/sim"),
    workers: Annotated[int, typer.Option(help="worker processes (0: one per CPU); results do not depend on it",
                                         min=0)] = 0,
) -> None:
    """Simulate HST cutouts of cluster members and interlopers in 12 bands (sections: cosmology, simulate_members)."""
    import time

    import numpy as np

    from skysieve._cpus import available_cpus
    from skysieve.config import load_params
    from skysieve.tasks.members.sim import write_members_simulation

    p = load_params(params)
    cfg = p.simulate_members
    n_workers = workers or available_cpus()
    t0 = time.perf_counter()
    truth = write_members_simulation(cfg, p.cosmology, out, workers=n_workers, progress=True)
    kinds, counts = np.unique(np.asarray(truth["kind"], dtype=str), return_counts=True)
    typer.echo(f"wrote {out}: {len(truth)} sources in {len(cfg.clusters)} clusters, {int(truth['label'].sum())} "
               f"members ({', '.join(f'{k} {c}' for k, c in zip(kinds, counts))}), {len(cfg.bands)} bands, in "
               f"{time.perf_counter() - t0:.0f} s on {n_workers} workers")


def cutouts_members(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate members`")] = Path("data/members/sim"),
    out: Annotated[Path, typer.Option(help="output directory: cutouts.h5 + catalog.fits")] = Path(
        "data/members/cutouts"),
) -> None:
    """Pick the band configuration, drop sources missing a band, split val/test by class and cluster
    (section: cutouts_members)."""
    import numpy as np

    from skysieve.config import load_params
    from skysieve.tasks.members.cutouts import make_members_cutouts

    cfg = load_params(params).cutouts_members
    catalog = make_members_cutouts(sim, out, cfg)
    split, label = np.asarray(catalog["split"], dtype=str), np.asarray(catalog["label"])
    per = ", ".join(f"{s} {int((split == s).sum())} ({int(label[split == s].sum())} members)"
                    for s in ("train", "val", "test"))
    typer.echo(f"wrote {out}: {len(catalog)} cutouts in {cfg.band_config} ({catalog.meta['CHANNELS']}), "
               f"{catalog.meta['NDROP']} of {catalog.meta['NSIM']} dropped for a missing band; {per}")


def validate_members(
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="cutout directory from `skysieve cutouts members`")] = Path(
        "data/members/cutouts"),
    report: Annotated[Path, typer.Option(help="JSON report (a Markdown twin is written beside it)")] = Path(
        "data/members/validation.json"),
) -> None:
    """Check bands, pixel scale, unit, NaNs, labels, clusters and split balance (section: validate_members)."""
    from skysieve.config import load_params
    from skysieve.data import open_dataset, validate_dataset
    from skysieve.tasks.members.validation import validate_members_dataset

    p = load_params(params)
    sim = p.simulate_members
    dataset = open_dataset(data)
    channels = p.cutouts_members.channels
    result = validate_dataset(dataset, p.validate_members, expected_channels=channels, size_px=sim.size_px)
    validate_members_dataset(dataset, result, channels=channels, pixel_scale_arcsec=sim.pixel_scale_arcsec,
                             clusters=tuple(c.name for c in sim.clusters), velocity_cut_kms=sim.velocity_cut_kms)
    finish_validation(result, report)


def evaluate_members(
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="cutout directory")] = Path("data/members/cutouts"),
    model: Annotated[Path, typer.Option(help="trained CNN directory")] = Path("models/members/cnn"),
    scores: Annotated[Path, typer.Option(help="output: per-source scores of the three methods, val and test")] = Path(
        "data/members/scores.fits"),
    state: Annotated[Path, typer.Option(help="output: thresholds, reference scores, test metrics (JSON)")] = Path(
        "models/members/evaluation.json"),
    out: Annotated[Path, typer.Option(help="output: metrics.json, table.md, CSVs, PNGs")] = Path(
        "reports/members/evaluate"),
) -> None:
    """CNN against random forest and colour method: thresholds for a target purity on validation, bootstrap
    metrics, per-bin tables, ROC and Venn on test (section: evaluate_members)."""
    from skysieve._io import atomic_path
    from skysieve._tracking import provenance
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.evaluate import log_report_run
    from skysieve.tasks.members.report import write_members_report
    from skysieve.tasks.members.scoring import score_members
    from skysieve.train import load_trained

    p = load_params(params)
    cfg = p.evaluate_members
    dataset = open_dataset(data)
    from astropy.table import Table

    oof = Table.read(model / "oof.fits") if (model / "oof.fits").is_file() else None
    table, ev, meta = score_members(dataset, load_trained(model), cfg, reference_band=p.simulate_members.reference_band,
                                    oof=oof)
    with atomic_path(scores) as tmp:
        table.write(tmp, format="fits")
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps(ev.state(), indent=1) + "\n")
    with atomic_path(out) as tmp:
        files = write_members_report(ev, tmp, meta=meta, max_curve_points=cfg.max_curve_points)
        run_id = log_report_run("evaluate", files, provenance=provenance([data, model]), params=cfg,
                                experiment=SEARCH)
    typer.echo((out / "table.md").read_text())
    typer.echo(f"wrote {scores}, {state} and {out}/ (MLflow run {run_id})")


def register_members(
    params: ParamsOption = Path("params.yaml"),
    model: Annotated[Path, typer.Option(help="trained CNN directory")] = Path("models/members/cnn"),
    state: Annotated[Path, typer.Option(help="from `skysieve evaluate members`")] = Path(
        "models/members/evaluation.json"),
    data: Annotated[list[Path], typer.Option(help="data the model was evaluated on (for the data hash)")] = [
        Path("data/members/cutouts")],
    out: Annotated[Path, typer.Option(help="output: JSON record of the registered name and version")] = Path(
        "models/members/registered.json"),
) -> None:
    """Register the members CNN with its test metrics and threshold, alias `candidate` (section: register_members).

    The version carries the catalog config (bands, pixel scale, cutout size,
    unit) that `skysieve catalog` checks new cutouts against. Promotion to
    `champion` is a separate, checked step: `skysieve promote NAME`.
    """
    from skysieve._io import atomic_path
    from skysieve._tracking import configure_mlflow, provenance
    from skysieve.config import load_params
    from skysieve.errors import DataError
    from skysieve.registry import read_cnn_manifest, register_cnn
    from skysieve.tasks.members._catalog_config import members_catalog_config

    p = load_params(params)
    if not state.is_file():
        raise DataError(f"{state}: not found; run `skysieve evaluate members --state {state}` first")
    manifest = read_cnn_manifest(model)
    config = members_catalog_config(p)
    if list(manifest["channels"]) != list(config["bands"]):
        raise DataError(f"{model}: trained on channels {manifest['channels']} but cutouts_members.band_config gives "
                        f"{config['bands']}; register with the params it was trained with")
    recorded = {k: v for k, v in p.model_dump(mode="json").items() if k.endswith("_members") or k == "cosmology"}
    recorded["train_members"] = manifest.get("params", recorded["train_members"])
    recorded["tuned"] = manifest.get("tuned", {})
    configure_mlflow()
    record = register_cnn(task=SEARCH, models_dir=model, name=p.register_members.model_name,
                          state=json.loads(state.read_text()), provenance=provenance(data), params=recorded,
                          tags={"members.band_config": config["band_config"]},
                          documents={"members_catalog_config": config})
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps({"cnn": record}, indent=2) + "\n")
    typer.echo(f"registered cnn: {record['name']} version {record['version']} (alias candidate)")
    typer.echo(f"promote with: skysieve promote {record['name']}")


def experiments_members(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate members`")] = Path("data/members/sim"),
    out: Annotated[Path, typer.Option(help="output directory, replaced whole: experiments.md, "
                                         "<experiment>.csv, PNGs; separability.md/.csv with --which separability")] = Path(
        "reports/members/experiments"),
    which: Annotated[list[str], typer.Option(help="experiments to run: band_configs, leave_out, learning_curve, "
                                                  "separability (true properties, no pixels)")] = [
        "band_configs", "leave_out", "learning_curve"],
    cnn: Annotated[bool, typer.Option("--cnn/--no-cnn", help="train the CNN for every row (minutes each) or run "
                                                             "the photometric methods only (seconds)")] = False,
    leave_out: Annotated[list[str], typer.Option(help="clusters held out of training (paper EXP2)")] = [
        "A370", "M0329", "MS2137"],
    fractions: Annotated[list[float], typer.Option(help="learning curve: fractions of the training split")] = [
        0.25, 0.5, 1.0],
    separability_scale: Annotated[float, typer.Option(help="separability: sample_scale of the pixel-free draw "
                                                           "(1.0 = the paper's 3790 sources)")] = 1.0,
    mag_noise: Annotated[float, typer.Option(help="separability: photometric noise on the true magnitudes, mag")] = 0.05,
) -> None:
    """The paper's further experiments: band configurations (Tables D.1–D.3), clusters left out (Table D.4),
    learning curve (sections: cutouts_members, train_members, evaluate_members; not a DVC stage)."""
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.errors import ConfigError
    from skysieve.tasks.members import experiments as ex
    from skysieve.tasks.members.report import write_experiment_tables, write_separability_table

    unknown = set(which) - {"band_configs", "leave_out", "learning_curve", "separability"}
    if unknown:
        raise ConfigError(f"--which: unknown experiment(s) {sorted(unknown)}; pick band_configs, leave_out, "
                          "learning_curve, separability")
    p = load_params(params)
    common = {"reference_band": p.simulate_members.reference_band, "cnn": cnn}
    args = (sim, p.train_members, p.evaluate_members, p.cutouts_members)
    tables = {}
    if "band_configs" in which:
        tables["band_configs"] = ex.band_config_rows(*args, **common)
    if "leave_out" in which:
        tables["leave_out"] = ex.leave_out_rows(*args, clusters=tuple(leave_out), **common)
    if "learning_curve" in which:
        tables["learning_curve"] = ex.learning_curve_rows(*args, fractions=tuple(fractions),
                                                          seed=p.cutouts_members.seed, **common)
    sep_rows = None
    if "separability" in which:
        from skysieve.tasks.members.params import BAND_CONFIGS
        from skysieve.tasks.members.separability import simulate_truth, truth_separability_rows

        cfg = p.simulate_members.model_copy(update={"sample_scale": separability_scale})
        bands = tuple(b for b in BAND_CONFIGS[p.cutouts_members.band_config])
        sep_rows = truth_separability_rows(simulate_truth(cfg, p.cosmology), bands=bands,
                                           reference=cfg.reference_band, mag_noise=mag_noise, seed=cfg.seed)
    written = []
    with atomic_path(out) as tmp:
        if tables:  # --which separability alone writes no (empty) experiments.md
            write_experiment_tables(tables, tmp)
            written.append("experiments.md")
        if sep_rows:
            write_separability_table(sep_rows, tmp)
            written.append("separability.md")
    for name in written:
        typer.echo((out / name).read_text())


def commands() -> tuple[Command, ...]:
    """Every command of the search, in the order data flows."""
    return (
        Command("simulate", SEARCH, simulate_members),
        Command("cutouts", SEARCH, cutouts_members),
        Command("validate", SEARCH, validate_members),
        Command("evaluate", SEARCH, evaluate_members),
        Command("register", SEARCH, register_members),
        Command("experiments", SEARCH, experiments_members,
                help="A search's further experiments: learning curves, band configurations, clusters left out."),
    )
