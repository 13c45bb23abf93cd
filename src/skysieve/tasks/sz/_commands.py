"""The commands of the ``sz`` search: ``skysieve <verb> sz`` for every stage but tune and train.

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


def _sky_patches(sky: Path) -> list[tuple[int, str, Path]]:
    """The patches of a sky directory (:func:`skysieve.sim.read_patch_dirs`), naming this search's fix."""
    from skysieve.sim import read_patch_dirs

    return read_patch_dirs(sky, rerun=f"skysieve simulate sz --out {sky}")

#: The search these commands serve (its MLflow experiment and registry tag).
SEARCH = "sz"


def simulate_cmb_spectrum(
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="FITS table of ell and lensed C_ell^TT [µK²]")] = Path(
        "data/sz/cmb_cl.fits"),
) -> None:
    """Compute the lensed CMB TT spectrum with CAMB (sections: cosmology, cmb_spectrum). Takes ~20 s."""
    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.sim import compute_cmb_spectrum

    p = load_params(params)
    table = compute_cmb_spectrum(p.cosmology, p.cmb_spectrum)
    with atomic_path(out) as tmp:
        table.write(tmp, format="fits")
    typer.echo(f"wrote {out} (lmax={p.cmb_spectrum.lmax})")


def simulate_sz(
    params: ParamsOption = Path("params.yaml"),
    cl: Annotated[Path, typer.Option(help="CMB spectrum from `skysieve simulate cmb-spectrum`")] = Path(
        "data/sz/cmb_cl.fits"),
    out: Annotated[Path, typer.Option(help="output directory: patch_<kk>/ (sky_<band>.fits, halos.fits, "
                                           "sources.fits) per patch and patches.json")] = Path("data/sz/sky"),
) -> None:
    """Simulate independent multi-band mm-wave sky patches (sections: cosmology, simulate_sz)."""
    from astropy.table import Table

    from skysieve.config import load_params
    from skysieve.errors import DataError
    from skysieve.sim import simulate_patches

    p = load_params(params)
    cfg = p.simulate_sz
    spectrum = None
    if cfg.components.cmb:
        if not cl.is_file():
            raise DataError(f"{cl}: CMB spectrum not found; run `skysieve simulate cmb-spectrum --out {cl}` first")
        spectrum = Table.read(cl)

    def report(sp, sky) -> None:
        typer.echo(f"{sp.name} (RA {sp.patch.ra_center_deg:g}°): {len(sky.freqs_ghz)} bands of "
                   f"{sky.maps.shape[1]}×{sky.maps.shape[2]} px, {len(sky.halos)} halos, "
                   f"{len(sky.sources)} point sources")

    entries = simulate_patches(cfg, p.cosmology, cl=spectrum, out_dir=out, on_patch=report)
    typer.echo(f"wrote {out}: {len(entries)} patches, {sum(e['n_halos'] for e in entries)} halos")


def cutouts_sz(
    params: ParamsOption = Path("params.yaml"),
    sky: Annotated[Path, typer.Option(help="directory from `skysieve simulate sz`")] = Path("data/sz/sky"),
    out: Annotated[Path, typer.Option(help="output directory: cutouts.h5 + catalog.fits")] = Path(
        "data/sz/cutouts"),
) -> None:
    """Make 8′ cutouts with a 6′ stride, labelled by the halos in their central 6′, split by patch
    (section: cutouts_sz)."""
    import numpy as np

    from skysieve.config import load_params
    from skysieve.tasks.sz.cutouts import write_cutouts
    from skysieve.tasks.sz.sky_cutouts import patch_loaders, plan_sky_cutouts

    cfg = load_params(params).cutouts_sz
    patches = _sky_patches(sky)
    dirs = {name: path for _, name, path in patches}
    catalog = plan_sky_cutouts([(k, name) for k, name, _ in patches], cfg,
                               load=lambda name: (_read_patch_maps(dirs[name]), _read_halos(dirs[name])), sky=sky)
    write_cutouts(patch_loaders(patches, _read_patch_maps), catalog, out, progress=True)
    split, label = np.asarray(catalog["split"], dtype=str), np.asarray(catalog["label"])
    counts = ", ".join(f"{s} {int((split == s).sum())} ({int(label[split == s].sum())} positive)"
                       for s in ("train", "val", "test"))
    typer.echo(f"wrote {out}: {len(catalog)} cutouts from {len(patches)} patches: {counts}")


def _read_patch_maps(path: Path):
    """The band maps of one patch directory, low to high frequency."""
    from skysieve.data import read_maps
    from skysieve.errors import DataError

    paths = sorted(path.glob("sky_*.fits"), key=lambda q: float(q.stem.removeprefix("sky_").removesuffix("GHz")))
    if not paths:
        raise DataError(f"{path}: no sky_<band>.fits maps; run `skysieve simulate sz` first")
    return read_maps(paths)


def _read_halos(path: Path):
    """The halo truth catalog of one patch directory."""
    from astropy.table import Table

    from skysieve.errors import DataError

    if not (path / "halos.fits").is_file():
        raise DataError(f"{path / 'halos.fits'}: halo truth catalog not found; rerun `skysieve simulate sz`")
    return Table.read(path / "halos.fits")


def _patch_tables(sky: Path, filename: str):
    """``filename`` of every patch of ``sky`` stacked, with a ``patch`` column, or None where none has it."""
    from astropy.table import Table, vstack

    tables = []
    for _, name, path in _sky_patches(sky):
        if (path / filename).is_file():
            t = Table.read(path / filename)
            t["patch"] = name
            tables.append(t)
    return vstack(tables, metadata_conflicts="silent") if tables else None


def validate_sz(
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="cutout directory from `skysieve cutouts sz`")] = Path(
        "data/sz/cutouts"),
    sky: Annotated[Path, typer.Option(help="sky directory (halos.fits, sources.fits)")] = Path("data/sz/sky"),
    report: Annotated[Path, typer.Option(help="JSON report (a Markdown twin is written beside it)")] = Path(
        "data/sz/validation.json"),
) -> None:
    """Check ids, splits, label rate, finiteness, shapes, dtypes and truth ranges (section: validate_sz)."""
    from skysieve.config import load_params
    from skysieve.data import band_name, open_dataset, validate_dataset
    from skysieve.tasks.sz.validation import validate_patch_splits, validate_truth_catalogs

    p = load_params(params)
    dataset = open_dataset(data)
    channels = tuple(band_name(b.freq_ghz) for b in p.simulate_sz.bands)
    size_px = int(round(p.cutouts_sz.size_arcmin / p.simulate_sz.patch.pixel_arcmin))
    result = validate_dataset(dataset, p.validate_sz, expected_channels=channels, size_px=size_px)
    validate_truth_catalogs(_patch_tables(sky, "halos.fits"), _patch_tables(sky, "sources.fits"), result)
    validate_patch_splits(dataset.catalog, result)
    finish_validation(result, report)


def mf_sz(
    params: ParamsOption = Path("params.yaml"),
    sky: Annotated[Path, typer.Option(help="directory from `skysieve simulate sz`")] = Path("data/sz/sky"),
    cl: Annotated[Path, typer.Option(help="CMB spectrum (used when mf_sz.noise_model is 'model')")] = Path(
        "data/sz/cmb_cl.fits"),
    cutouts: Annotated[Path, typer.Option(help="directory from `skysieve cutouts sz`")] = Path("data/sz/cutouts"),
    out: Annotated[Path, typer.Option(help="output directory: detections.fits, mf_snr.fits, summary.json")] = Path(
        "data/sz/mf"),
) -> None:
    """Filter each patch's maps at 12 scales, find and match detections, score every cutout (sections: mf_sz,
    simulate_sz.bands)."""
    import json

    from astropy.table import Table

    from skysieve._io import atomic_path
    from skysieve.config import load_params
    from skysieve.data import band_name, open_dataset, read_maps
    from skysieve.errors import DataError
    from skysieve.mf import read_source_catalog
    from skysieve.tasks.sz._mf_patches import run_mf_patches

    p = load_params(params)
    cfg, bands = p.mf_sz, p.simulate_sz.bands
    if cfg.noise_model == "model" and not cl.is_file():
        raise DataError(f"{cl}: CMB spectrum not found; run `skysieve simulate cmb-spectrum --out {cl}`")
    catalog = open_dataset(cutouts).catalog

    def load(path: Path):
        maps = read_maps([path / f"sky_{band_name(b.freq_ghz)}.fits" for b in bands])
        sources = None if cfg.sources == "find" else read_source_catalog(path / "sources.fits",
                                                                             freqs_ghz=maps.freqs_ghz)
        return maps, _read_halos(path), sources

    result = run_mf_patches(_sky_patches(sky), load, params=cfg, bands=bands, cutouts=catalog,
                            central_arcmin=p.cutouts_sz.central_arcmin,
                            cmb_cl=Table.read(cl) if cfg.noise_model == "model" else None,
                            tcmb_k=p.cosmology.Tcmb0_k)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        result.detections.write(tmp / "detections.fits")
        result.scores.write(tmp / "mf_snr.fits")
        (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
    s = result.summary
    typer.echo(f"wrote {out}: {s['n_detections']} detections ({s['n_matched']} matched to halos), "
               f"{s['n_cutouts_detected']}/{s['n_cutouts']} cutouts hold one")


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
    from skysieve.evaluate import (
        evaluate_methods,
        fold_metrics_from_oof,
        log_report_run,
        score_cutouts,
        threshold_noise,
        write_evaluation_report,
    )
    from skysieve.metrics import intervals_as_dict
    from skysieve.train import load_trained

    p = load_params(params)
    if not (mf / "mf_snr.fits").is_file():
        raise DataError(f"{mf / 'mf_snr.fits'}: not found; run `skysieve mf sz --out {mf}` first")
    table = score_cutouts(open_dataset(data), load_trained(model), Table.read(mf / "mf_snr.fits"))
    results = evaluate_methods(table, params=p.evaluate_sz)
    with atomic_path(scores) as tmp:
        table.write(tmp, format="fits")
    noise = threshold_noise(table, params=p.evaluate_sz)
    markdown = _methods_markdown(results, noise)
    extra = {"with_threshold_choice": {m: {**{k: iv.value for k, iv in ivs.items()}, **intervals_as_dict(ivs)}
                                       for m, ivs in noise.items()}} if noise else None
    with atomic_path(out) as tmp:
        files = write_evaluation_report(results, tmp, fold_metrics=fold_metrics_from_oof(model / "oof.fits"),
                                        table_markdown=markdown, max_curve_points=p.evaluate_sz.max_curve_points,
                                        extra_metrics=extra)
        run_id = log_report_run("evaluate", files, provenance=provenance([data, mf, model]), params=p.evaluate_sz,
                                experiment=SEARCH)
    typer.echo(markdown)
    typer.echo(f"wrote {scores} and {out}/ (MLflow run {run_id})")


def _methods_markdown(results: dict, noise: dict | None = None) -> str:
    """DeepSZ Table 1 rows of the evaluated methods with their 95 % intervals, the test ROC/PR-AUC, and the F1
    intervals with the threshold's own validation noise (``noise``, :func:`~skysieve.evaluate.threshold_noise`)."""
    from skysieve.ensemble import comparison_table_from_counts, table_to_markdown

    rows = comparison_table_from_counts({m: r.test.counts for m, r in results.items()})
    for row, r in zip(rows, results.values(), strict=True):
        for k in ("purity", "completeness", "f1"):
            iv = r.test.interval(k)
            if iv is not None:
                row[f"{k}_lo"], row[f"{k}_hi"] = iv
                row["n_pos"], row["n_neg"] = r.test.n_pos, r.test.n_neg
    aucs = [f"{m}: ROC-AUC {r.test.format('roc_auc', digits=3)}, PR-AUC {r.test.format('pr_auc', digits=3)}"
            for m, r in results.items() if r.test.roc_auc is not None]
    text = table_to_markdown(rows) + ("\nTest " + "; ".join(aucs) + ".\n" if aucs else "")
    if noise:
        parts = [f"{m}: {ivs['f1'].value:.2f} ({ivs['f1'].lo:.2f}–{ivs['f1'].hi:.2f})" for m, ivs in noise.items()]
        text += ("\nF1 with the threshold re-chosen on each validation resample (validation and test noise, "
                 f"{next(iter(noise.values()))['f1'].n_boot} resamples): " + "; ".join(parts) + ".\n")
    return text


def ensemble_sz(
    params: ParamsOption = Path("params.yaml"),
    scores: Annotated[Path, typer.Option(help="scores from `skysieve evaluate sz`")] = Path("data/sz/scores.fits"),
    state: Annotated[Path, typer.Option(help="output: thresholds and reference distributions (JSON)")] = Path(
        "models/sz/ensemble.json"),
    out: Annotated[Path, typer.Option(help="output: metrics.json, table.md, plots")] = Path(
        "reports/sz/ensemble"),
    data: Annotated[Path | None, typer.Option(help="cutout directory: cutouts of the objects the CNN and the MF "
                                                   "disagree on (PNG galleries); omit for none")] = None,
) -> None:
    """Fit AND and rank-product ensembles on validation; DeepSZ's table on test, and where the CNN and the MF
    disagree (section: ensemble_sz)."""
    from astropy.table import Table

    from skysieve._io import atomic_path
    from skysieve._tracking import provenance
    from skysieve.config import load_params
    from skysieve.data import open_dataset
    from skysieve.ensemble import differences_to_markdown, run_ensembles, table_to_markdown, write_disagreement
    from skysieve.errors import DataError
    from skysieve.evaluate import log_report_run, write_evaluation_report

    p = load_params(params)
    if not scores.is_file():
        raise DataError(f"{scores}: not found; run `skysieve evaluate sz --scores {scores}` first")
    dataset = open_dataset(data) if data is not None else None
    outcome = run_ensembles(Table.read(scores), params=p.ensemble_sz, evaluate=p.evaluate_sz)
    rows = list(outcome.table)
    if outcome.truth_assisted is not None:  # beside the MF row: the same filter, the truth-assisted assignment
        rows.insert(1, outcome.truth_assisted["row"])
    markdown = table_to_markdown(rows)
    if outcome.truth_assisted is not None:
        markdown += ("\nThe MF row assigns each detection to the cutout that holds it (position only, as "
                     "`skysieve catalog` does); the truth-assisted row (DeepSZ §2.3: a detection matched to a "
                     "halo counts for the cutout of the halo's true centre) is shown for comparison only.\n")
    if outcome.differences:
        markdown += "\n" + differences_to_markdown(outcome.differences)
    if outcome.refit:
        f1, refit_diff = outcome.refit
        n = next(iter(f1.values())).n_boot
        markdown += ("\nWith every method refitted on each of " + str(n) + " validation resamples (the noise of "
                     "fitting thresholds on a finite validation split included), test F1: "
                     + "; ".join(f"{m} {iv}" for m, iv in f1.items()) + ".\n\n"
                     + differences_to_markdown(refit_diff, title="The same differences with every method refitted "
                                               "per validation resample (paired on the test side):"))
    ens = outcome.ensembles
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps({"thresholds": ens.thresholds(),
                                   "references": {k: v.tolist() for k, v in ens.references().items()},
                                   "test_metrics": {m: r.test.as_dict() for m, r in outcome.results.items()},
                                   "val_metrics": {m: r.val.as_dict() for m, r in outcome.results.items()},
                                   "differences": outcome.differences_dict(),
                                   "test_predictions": outcome.test_predictions},
                                  indent=1))
    with atomic_path(out) as tmp:
        extra = {"differences": outcome.differences_dict(), "with_refit": outcome.refit_dict()} \
            if outcome.differences else {}
        if outcome.truth_assisted is not None:
            extra["mf_truth_assisted"] = {k: v for k, v in outcome.truth_assisted["row"].items() if k != "method"}
        files = write_evaluation_report(outcome.results, tmp, table_markdown=markdown,
                                        max_curve_points=p.evaluate_sz.max_curve_points,
                                        extra_metrics=extra or None)
        truth_columns = [c for c in (p.evaluate_sz.mass_column, p.evaluate_sz.redshift_column)
                         if c in outcome.test.colnames]
        for path in write_disagreement(tmp, outcome.disagreement, outcome.test, outcome.decisions["mf"],
                                       outcome.decisions["cnn"], dataset=dataset, truth_columns=truth_columns,
                                       reference_differences=True):  # + the CMB-free 90 − 219, 148 − 219 GHz
            if path.suffix == ".png":
                files.pngs[path.stem] = path
        run_id = log_report_run("ensemble", files, provenance=provenance([scores]), params=p.ensemble_sz,
                                experiment=SEARCH)
    typer.echo(markdown)
    typer.echo(f"wrote {state} and {out}/ (MLflow run {run_id})")


def register_sz(
    params: ParamsOption = Path("params.yaml"),
    model: Annotated[Path, typer.Option(help="trained CNN directory")] = Path("models/sz/cnn"),
    state: Annotated[Path, typer.Option(help="ensemble thresholds/references from `skysieve ensemble sz`")] = Path(
        "models/sz/ensemble.json"),
    data: Annotated[list[Path], typer.Option(help="data the models were evaluated on (for the data hash)")] = [
        Path("data/sz/cutouts"), Path("data/sz/mf")],
    out: Annotated[Path, typer.Option(help="output: JSON record of the registered names and versions")] = Path(
        "models/sz/registered.json"),
) -> None:
    """Register CNN and ensemble versions and set alias `candidate` (section: register_sz).

    Promotion to `champion` is a separate, checked step: `skysieve promote NAME`.
    """
    from skysieve._io import atomic_path
    from skysieve._tracking import configure_mlflow, provenance
    from skysieve.config import load_params
    from skysieve.errors import DataError
    from skysieve.registry import register_pipeline
    from skysieve.tasks.sz._catalog_config import catalog_documents

    p = load_params(params)
    if not state.is_file():
        raise DataError(f"{state}: not found; run `skysieve ensemble sz --state {state}` first")
    configure_mlflow()
    record = register_pipeline(
        task=SEARCH,
        models_dir=model, ensemble_state=json.loads(state.read_text()), provenance=provenance(data),
        params=p, cnn_name=p.register_sz.cnn_model_name, ensemble_name=p.register_sz.ensemble_model_name,
        primary_method=p.register_sz.ensemble_primary_method, documents=catalog_documents(p))
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    for kind, r in record.items():
        typer.echo(f"registered {kind}: {r['name']} version {r['version']} (alias candidate)")
    typer.echo(f"promote with: skysieve promote {record['ensemble']['name']}")


def commands() -> tuple[Command, ...]:
    """Every command of the search, in the order data flows."""
    return (
        Command("simulate", "cmb-spectrum", simulate_cmb_spectrum),
        Command("simulate", "sz", simulate_sz),
        Command("cutouts", "sz", cutouts_sz),
        Command("validate", "sz", validate_sz),
        Command("mf", "sz", mf_sz, help="Matched-filter cluster finding: detections and per-cutout SNR."),
        Command("evaluate", "sz", evaluate_sz),
        Command("ensemble", "sz", ensemble_sz),
        Command("register", "sz", register_sz),
    )
