"""``skysieve evaluate`` and ``skysieve ensemble``: test metrics at validation thresholds (SZ, lenses)."""

import json
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, handle_errors

__all__ = ["register"]


def _log_run(name: str, files, provenance: dict, params, *, task: str = "sz") -> str:
    """Log a report as an MLflow run of experiment ``task`` with its provenance; return the run id."""
    import mlflow

    from skysieve._tracking import configure_mlflow, experiment_id, log_provenance
    from skysieve.evaluate.report import log_report_to_mlflow

    configure_mlflow()
    with mlflow.start_run(experiment_id=experiment_id(task), run_name=name) as run:
        log_provenance(run.info.run_id, provenance=provenance, params=params)
        log_report_to_mlflow(files, run_id=run.info.run_id)
    return run.info.run_id


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` and ``ensemble`` command groups to ``app``."""
    evaluate = typer.Typer(help="Evaluate MF and CNN: thresholds from validation, metrics on test, plots.",
                           no_args_is_help=True)
    ensemble = typer.Typer(help="MF+CNN ensembles (AND, rank product) and DeepSZ's comparison table.",
                           no_args_is_help=True)

    @evaluate.command("sz")
    @handle_errors
    def evaluate_sz(
        params: ParamsOption = Path("params.yaml"),
        data: Annotated[Path, typer.Option(help="cutout directory")] = Path("data/sz/cutouts"),
        mf: Annotated[Path, typer.Option(help="`skysieve mf sz` output directory")] = Path("data/sz/mf"),
        model: Annotated[Path, typer.Option(help="trained CNN directory")] = Path("models/sz/cnn"),
        scores: Annotated[Path, typer.Option(help="output: per-cutout scores for val and test")] = Path(
            "data/sz/scores.fits"),
        out: Annotated[Path, typer.Option(help="output: metrics.json, plots (PNG), curves (CSV)")] = Path(
            "reports/sz/evaluate"),
    ) -> None:
        """Score val/test cutouts with the CNN, join the MF SNR, evaluate both (section: evaluate_sz)."""
        from astropy.table import Table

        from skysieve._io import atomic_path
        from skysieve._tracking import provenance
        from skysieve.config import load_params
        from skysieve.data import open_dataset
        from skysieve.errors import DataError
        from skysieve.evaluate import evaluate_methods, fold_metrics_from_oof, score_cutouts, write_evaluation_report
        from skysieve.train import load_trained

        p = load_params(params)
        if not (mf / "mf_snr.fits").is_file():
            raise DataError(f"{mf / 'mf_snr.fits'}: not found; run `skysieve mf sz --out {mf}` first")
        table = score_cutouts(open_dataset(data), load_trained(model), Table.read(mf / "mf_snr.fits"))
        results = evaluate_methods(table, params=p.evaluate_sz)
        with atomic_path(scores) as tmp:
            table.write(tmp, format="fits")
        with atomic_path(out) as tmp:
            files = write_evaluation_report(results, tmp, fold_metrics=fold_metrics_from_oof(model / "oof.fits"),
                                            max_curve_points=p.evaluate_sz.max_curve_points)
            run_id = _log_run("evaluate", files, provenance([data, mf, model]), p.evaluate_sz)
        for method, r in results.items():
            typer.echo(f"{method:>4}: threshold {r.thresholds} | test purity {r.test.counts.purity:.3f} "
                       f"completeness {r.test.counts.completeness:.3f} F1 {r.test.counts.f1:.3f}")
        typer.echo(f"wrote {scores} and {out}/ (MLflow run {run_id})")

    @evaluate.command("lens")
    @handle_errors
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
        from skysieve.evaluate import align_truth, evaluate_lens, lens_truth, score_cutouts, write_lens_report
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
            run_id = _log_run("evaluate", files, provenance([data, model]), p.evaluate_lens, task="lens")
        typer.echo((out / "table.md").read_text())
        c, auc = ev.result.test.counts, ev.result.test.roc_auc
        typer.echo(f"threshold {ev.threshold:.4g} ({ev.operating_point}): test purity {c.purity:.3f} completeness "
                   f"{c.completeness:.3f} F1 {c.f1:.3f}, ROC-AUC {'n/a' if auc is None else f'{auc:.3f}'}")
        typer.echo(f"wrote {scores}, {state} and {out}/ (MLflow run {run_id})")

    @ensemble.command("sz")
    @handle_errors
    def ensemble_sz(
        params: ParamsOption = Path("params.yaml"),
        scores: Annotated[Path, typer.Option(help="scores from `skysieve evaluate sz`")] = Path("data/sz/scores.fits"),
        state: Annotated[Path, typer.Option(help="output: thresholds and reference distributions (JSON)")] = Path(
            "models/sz/ensemble.json"),
        out: Annotated[Path, typer.Option(help="output: metrics.json, table.md, plots")] = Path(
            "reports/sz/ensemble"),
    ) -> None:
        """Fit AND and rank-product ensembles on validation; DeepSZ's table on test (section: ensemble_sz)."""
        from astropy.table import Table

        from skysieve._io import atomic_path
        from skysieve._tracking import provenance
        from skysieve.config import load_params
        from skysieve.ensemble import run_ensembles, table_to_markdown
        from skysieve.errors import DataError
        from skysieve.evaluate import write_evaluation_report

        p = load_params(params)
        if not scores.is_file():
            raise DataError(f"{scores}: not found; run `skysieve evaluate sz --scores {scores}` first")
        outcome = run_ensembles(Table.read(scores), params=p.ensemble_sz, evaluate=p.evaluate_sz)
        markdown = table_to_markdown(outcome.table)
        ens = outcome.ensembles
        with atomic_path(state) as tmp:
            tmp.write_text(json.dumps({"thresholds": ens.thresholds(),
                                       "references": {k: v.tolist() for k, v in ens.references().items()},
                                       "test_metrics": {m: r.test.as_dict() for m, r in outcome.results.items()},
                                       "val_metrics": {m: r.val.as_dict() for m, r in outcome.results.items()}},
                                      indent=1))
        with atomic_path(out) as tmp:
            files = write_evaluation_report(outcome.results, tmp, table_markdown=markdown,
                                            max_curve_points=p.evaluate_sz.max_curve_points)
            run_id = _log_run("ensemble", files, provenance([scores]), p.ensemble_sz)
        typer.echo(markdown)
        typer.echo(f"wrote {state} and {out}/ (MLflow run {run_id})")

    app.add_typer(evaluate, name="evaluate")
    app.add_typer(ensemble, name="ensemble")
