"""The commands of the ``morphology`` search: ``skysieve <verb> morphology``.

Each is a thin edge: parse paths, load its params section, call the library,
write outputs atomically.  ``pretrain`` and ``finetune`` are the search's own
verbs: the engine's ``train``/``tune`` learn 0/1 labels with k folds, these
learn vote fractions and transfer between surveys.
"""

import json
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli import ParamsOption, finish_validation
from skysieve.tasks import Command

__all__ = ["commands"]

SEARCH = "morphology"


def _progress(it, *, desc: str, total: int | None = None):
    from rich.console import Console
    from rich.progress import track

    return track(it, description=desc, total=total, console=Console(stderr=True))


def simulate_morphology(
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="output directory: source/ and target/ cutout datasets")] = Path(
        "data/morphology/sim"),
) -> None:
    """Render the CANDELS-like source and CLASH-like target surveys with galsim; votes by simulated annotators."""
    import time

    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.tasks.morphology.sim import simulate_source, simulate_target, write_survey

    cfg = load_params(params).simulate_morphology
    t0 = time.perf_counter()
    source = simulate_source(cfg, seed=cfg.seed, progress=_progress)
    target = simulate_target(cfg, seed=cfg.seed, progress=_progress)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        floors = {"source": write_survey(source, tmp / "source", channel="stamp", pixel_note="F160W 0.06 arcsec"),
                  "target": write_survey(target, tmp / "target", channel="stamp", pixel_note="16 CLASH bands")}
        (tmp / "noise_floor.json").write_text(json.dumps(floors, indent=1) + "\n")
    typer.echo(f"wrote {out}: {len(source.table)} source and {len(target.table)} target stamps "
               f"({int(target.table['labelled'].sum())} labelled) in {time.perf_counter() - t0:.0f} s; "
               f"one annotator vs the others' consensus: RMSE {floors['target']['one_vs_rest']:.4f} (target)")


def validate_morphology(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate morphology`")] = Path(
        "data/morphology/sim"),
    report: Annotated[Path, typer.Option(help="JSON report (a Markdown twin beside it)")] = Path(
        "data/morphology/validation.json"),
) -> None:
    """Votes sum to one, stamp size, finite pixels, every class present (great-expectations)."""
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.tasks.morphology.validation import validate_morphology_dataset

    p = load_params(params)
    cfg = p.simulate_morphology
    result = validate_morphology_dataset(open_dataset(sim / "source"), p.validate_morphology, name="source",
                                         stamp_px=cfg.stamp_px, bands=(cfg.source.band.name,))
    target = validate_morphology_dataset(open_dataset(sim / "target"), p.validate_morphology, name="target",
                                         stamp_px=cfg.stamp_px, bands=tuple(b.name for b in cfg.target.bands))
    result.n_expectations += target.n_expectations
    result.failures += target.failures
    result.summary.update(target.summary)
    finish_validation(result, report)


def pretrain_morphology(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate morphology`")] = Path(
        "data/morphology/sim"),
    out: Annotated[Path, typer.Option(help="output: model.keras, metrics.json, registered.json")] = Path(
        "models/morphology/source"),
) -> None:
    """Pre-train the Table 1 net on the source survey and register it (the model fine-tunes start from)."""
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.tasks.morphology._tracking import register_keras, tracked_run
    from skysieve.tasks.morphology.evaluate import evaluate_probabilities
    from skysieve.tasks.morphology.transfer import load_split, predict, pretrain

    p = load_params(params)
    cfg = p.pretrain_morphology
    data = open_dataset(sim / "source")
    train, val, test = (load_split(data, s) for s in ("train", "val", "test"))
    with tracked_run("pretrain", params=cfg, data=[sim / "source"]) as log:
        fit = pretrain(cfg, train, val, on_epoch=log.epoch)
        ev = evaluate_probabilities(test.y, predict(fit.model, test), p.evaluate_morphology)
        log.metrics({"test_rmse": ev["rmse"], "test_macro_f1": ev["macro_f1"], "train_seconds": fit.train_seconds})
        record = register_keras(fit.model, name=p.register_morphology.source_model_name, evaluation=ev,
                                params=cfg, data=[sim / "source"], tags={"morphology.role": "source"})
    with atomic_path(out) as tmp:
        tmp.mkdir()
        fit.model.save(tmp / "model.keras")
        (tmp / "metrics.json").write_text(json.dumps({k: ev[k] for k in ("n", "rmse", "rmse_lo", "rmse_hi",
                                                                         "macro_f1", "ece")}, indent=1) + "\n")
        (tmp / "registered.json").write_text(json.dumps(record, indent=1) + "\n")
    typer.echo(f"source test RMSE {ev['rmse']:.4f} [{ev['rmse_lo']:.4f}, {ev['rmse_hi']:.4f}] on {ev['n']} stamps "
               f"(paper, CANDELS: ~0.123); registered {record['name']} v{record['version']} (alias candidate)")


def finetune_morphology(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate morphology`")] = Path(
        "data/morphology/sim"),
    source: Annotated[Path, typer.Option(help="`skysieve pretrain morphology` output (its registered.json)")] = Path(
        "models/morphology/source"),
    out: Annotated[Path, typer.Option(help="output: model.keras, best_params.json, lineage.json")] = Path(
        "models/morphology/finetuned"),
) -> None:
    """Fine-tune the registered source model on the labelled target images; Optuna picks frozen depth and lr."""
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.registry import load_transfer_source
    from skysieve.tasks.morphology._study import tune_transfer
    from skysieve.tasks.morphology._tracking import tracked_run
    from skysieve.tasks.morphology.params import CLASSES
    from skysieve.tasks.morphology.transfer import load_split

    p = load_params(params)
    cfg = p.finetune_morphology
    data = open_dataset(sim / "target")
    train, val = load_split(data, "train"), load_split(data, "val")
    with tracked_run("finetune", params=cfg, data=[sim / "target"]) as log:
        model, lineage = load_transfer_source(cfg.source_model, input_shape=data.shape[1:], n_outputs=len(CLASSES))
        log.tags(lineage)
        best, fit = tune_transfer(model, p.pretrain_morphology, cfg, train, val, log=log)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        fit.model.save(tmp / "model.keras")
        (tmp / "best_params.json").write_text(json.dumps(best, indent=1) + "\n")
        (tmp / "lineage.json").write_text(json.dumps(lineage, indent=1) + "\n")
    typer.echo(f"fine-tuned from {lineage['transfer.source_uri']} (v{lineage['transfer.source_version']}): "
               f"frozen depth {best['frozen_depth']}, lr ratio {best['lr_ratio']:.3g}, "
               f"val RMSE {best['val_rmse']:.4f}")


def experiments_morphology(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate morphology`")] = Path(
        "data/morphology/sim"),
    source: Annotated[Path, typer.Option(help="`skysieve pretrain morphology` output")] = Path(
        "models/morphology/source"),
    out: Annotated[Path, typer.Option(help="output: CSV tables, metrics.json, plots")] = Path(
        "reports/morphology/experiments"),
) -> None:
    """RMSE vs labelled-set size (scratch vs fine-tuned, repeats, power law) and vs frozen depth (Figs. 4–5)."""
    import numpy as np
    from astropy.table import Table

    from skysieve._cpus import available_cpus
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.registry import load_transfer_source
    from skysieve.tasks.morphology.evaluate import power_law_fit
    from skysieve.tasks.morphology.experiments import transfer_experiments
    from skysieve.tasks.morphology.params import CLASSES
    from skysieve.tasks.morphology.report import plot_experiments
    from skysieve.tasks.morphology.transfer import load_split

    p = load_params(params)
    cfg, ft, pre = p.experiments_morphology, p.finetune_morphology, p.pretrain_morphology
    data = open_dataset(sim / "target")
    train, val, test = (load_split(data, s) for s in ("train", "val", "test"))
    model, lineage = load_transfer_source(ft.source_model, input_shape=data.shape[1:], n_outputs=len(CLASSES))
    curve, depth = transfer_experiments(model, pre, ft, cfg, train, val, test, workers=cfg.workers or available_cpus(),
                                        progress=_progress)
    # the report holds figures only, so a rerun with the same params rewrites it byte for byte: the source's
    # registry version and run id (new at every pre-training) and the timings are printed, not written
    summary: dict = {"source": {k: lineage[k] for k in ("transfer.source_uri", "transfer.source_name")},
                     "n_test": len(test.x), "sizes": {}}
    for size in sorted({r["size"] for r in curve}):
        entry = {}
        for mode in ("scratch", "finetuned"):
            v = np.array([r["rmse"] for r in curve if r["size"] == size and r["mode"] == mode])
            entry[mode] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                           "n": int(len(v))}
        summary["sizes"][str(size)] = entry
    tuned = [r for r in curve if r["mode"] == "finetuned"]
    summary["power_law_finetuned"] = power_law_fit(np.array([r["size"] for r in tuned]),
                                                   np.array([r["rmse"] for r in tuned]))
    summary["frozen_depth"] = {str(d): float(np.mean([r["rmse"] for r in depth if r["frozen_depth"] == d]))
                               for d in sorted({r["frozen_depth"] for r in depth})}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        columns = [k for k in curve[0] if k != "seconds"]
        Table(rows=[tuple(r[k] for k in columns) for r in curve], names=columns).write(tmp / "learning_curve.csv")
        Table(rows=[tuple(r.values()) for r in depth], names=list(depth[0])).write(tmp / "frozen_depth.csv")
        (tmp / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")
        plot_experiments(curve, depth, summary["power_law_finetuned"], tmp)
    for size, e in summary["sizes"].items():
        typer.echo(f"N={size:>4}: scratch {e['scratch']['mean']:.4f} ± {e['scratch']['std']:.4f}, fine-tuned "
                   f"{e['finetuned']['mean']:.4f} ± {e['finetuned']['std']:.4f} ({e['finetuned']['n']} repeats)")
    typer.echo(f"source {lineage.get('transfer.source_name')} v{lineage.get('transfer.source_version')} (run "
               f"{lineage.get('transfer.source_run_id')}); learning-curve training {sum(r['seconds'] for r in curve):.0f} s")
    typer.echo(f"wrote {out}")


def evaluate_morphology(
    params: ParamsOption = Path("params.yaml"),
    sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate morphology`")] = Path(
        "data/morphology/sim"),
    model: Annotated[Path, typer.Option(help="`skysieve finetune morphology` output")] = Path(
        "models/morphology/finetuned"),
    state: Annotated[Path, typer.Option(help="output: test metrics for the registry (JSON)")] = Path(
        "models/morphology/evaluation.json"),
    out: Annotated[Path, typer.Option(help="output: metrics.json, table.md, plots")] = Path(
        "reports/morphology/evaluate"),
) -> None:
    """Test RMSE, MAP and confident confusions, calibration, Fig. 11, beside the paper and the label noise."""
    import keras
    import numpy as np

    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.tasks.morphology.evaluate import evaluate_probabilities
    from skysieve.tasks.morphology.params import CLASSES
    from skysieve.tasks.morphology.report import plot_evaluation, summary_markdown
    from skysieve.tasks.morphology.transfer import load_split, predict

    p = load_params(params)
    data = open_dataset(sim / "target")
    test = load_split(data, "test")
    net = keras.models.load_model(model / "model.keras")
    expected = np.stack([np.asarray(data.catalog[f"e_{c}"])[test.rows] for c in CLASSES], axis=1)
    ev = evaluate_probabilities(test.y, predict(net, test), p.evaluate_morphology, expected=expected)
    floor = json.loads((sim / "noise_floor.json").read_text())["target"]
    ev["annotator_floor"] = floor
    table = summary_markdown(ev, floor)
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps({"test_metrics": {"cnn": {k: ev[k] for k in (
            "n", "rmse", "rmse_lo", "rmse_hi", "macro_f1", "macro_f1_lo", "macro_f1_hi", "ece", "map_accuracy")}}},
            indent=1) + "\n")
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "metrics.json").write_text(json.dumps(ev, indent=1) + "\n")
        (tmp / "table.md").write_text(table)
        plot_evaluation(ev, tmp)
    typer.echo(table)


def register_morphology(
    params: ParamsOption = Path("params.yaml"),
    model: Annotated[Path, typer.Option(help="`skysieve finetune morphology` output")] = Path(
        "models/morphology/finetuned"),
    state: Annotated[Path, typer.Option(help="from `skysieve evaluate morphology`")] = Path(
        "models/morphology/evaluation.json"),
    sim: Annotated[Path, typer.Option(help="data the model was tuned and tested on")] = Path("data/morphology/sim"),
    out: Annotated[Path, typer.Option(help="output: JSON record of the registered version")] = Path(
        "models/morphology/registered.json"),
) -> None:
    """Register the fine-tuned model (alias candidate) with its test metrics and lineage to the source version."""
    import keras

    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.errors import DataError
    from skysieve.tasks.morphology._tracking import register_keras, tracked_run

    p = load_params(params)
    for f in (state, model / "model.keras", model / "lineage.json"):
        if not f.is_file():
            raise DataError(f"{f}: not found; run `dvc repro evaluate_morphology` first")
    ev = json.loads(state.read_text())["test_metrics"]["cnn"]
    lineage = json.loads((model / "lineage.json").read_text())
    best = json.loads((model / "best_params.json").read_text())
    bands = ",".join(b.name for b in p.simulate_morphology.target.bands)
    with tracked_run("register", params=p.finetune_morphology, data=[sim / "target"]) as log:
        log.tags(lineage)
        record = register_keras(keras.models.load_model(model / "model.keras"), name=p.register_morphology.model_name,
                                evaluation=ev, params={"finetune_morphology": p.finetune_morphology.model_dump(
                                    mode="json"), "best": best}, data=[sim / "target"],
                                tags={**lineage, "morphology.role": "finetuned", "morphology.bands": bands,
                                      "morphology.frozen_depth": best["frozen_depth"],
                                      "morphology.lr_ratio": best["lr_ratio"]})
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    typer.echo(f"registered {record['name']} v{record['version']} (alias candidate), fine-tuned from "
               f"{lineage['transfer.source_uri']}; promote with: skysieve promote {record['name']}")


def commands() -> tuple[Command, ...]:
    """Every command of the search, in the order data flows."""
    return (
        Command("simulate", SEARCH, simulate_morphology),
        Command("validate", SEARCH, validate_morphology),
        Command("pretrain", SEARCH, pretrain_morphology, help="Pre-train on a source survey (transfer learning)."),
        Command("finetune", SEARCH, finetune_morphology, help="Fine-tune a registered model on a target survey."),
        Command("experiments", SEARCH, experiments_morphology, help="A search's learning-curve experiments."),
        Command("evaluate", SEARCH, evaluate_morphology),
        Command("register", SEARCH, register_morphology),
    )
