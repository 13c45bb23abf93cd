"""How new images become inputs of a registered lens classifier: ``skysieve catalog`` options and their use."""

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["CATALOG_HELP", "catalog_options", "field_options", "load_catalog_model", "make_catalog", "survey_duplicates"]

CATALOG_HELP = ("either --cutouts DIR, a directory of FITS cutouts (one image HDU per band identified by its FILTER "
                "keyword, or per-band files <stem>_<FILTER>.fits; larger cutouts are centre-cropped to the model's "
                "size), or --images with one large image per band and --positions with the ra, dec (deg) of the "
                "objects to cut out. Bands, pixel scale (within 1%) and BUNIT must be the model's. One row per "
                "cutout: id, ra, dec, score, is_lens, percentile and flags. --truth: a table of id and label "
                "(1 = lens). A survey field (--fields) is a directory of cutouts, as --cutouts.")


def catalog_options() -> tuple[inspect.Parameter, ...]:
    """The options of ``skysieve catalog`` a lens classifier reads."""
    kw = inspect.Parameter.KEYWORD_ONLY
    return (
        inspect.Parameter("cutouts", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            help="lens: directory of FITS cutouts, one file per cutout with an image HDU per band (FILTER keyword), "
                 "or one file per band named <stem>_<FILTER>.fits")]),
        inspect.Parameter("images", kw, default=None, annotation=Annotated[list[Path] | None, typer.Option(
            help="lens: one large FITS image per band (FILTER, celestial WCS): --images f435w.fits f606w.fits "
                 "f814w.fits")]),
        inspect.Parameter("positions", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            help="lens, with --images: table (.fits, .csv, .ecsv) of ra, dec in degrees and an optional id")]),
    )


#: Rows of overlapping fields closer than this are one object (the same cluster member cut out twice).
DUPLICATE_RADIUS_ARCMIN = 1.0 / 60.0


def field_options(directory: Path) -> dict[str, Any]:
    """One survey field: ``directory`` is a directory of cutouts (``--cutouts``)."""
    from skysieve.errors import DataError

    if not Path(directory).is_dir():
        raise DataError(f"{directory}: field directory not found")
    return {"cutouts": Path(directory), "images": None, "positions": None, "extra": []}


def load_catalog_model(ref: Any) -> Any:
    """The registered lens classifier, loaded once for many fields."""
    from skysieve.tasks.lens.catalog import load_lens_catalog_model

    return load_lens_catalog_model(ref)


def survey_duplicates(table: Any) -> tuple[Any, float]:
    """Rows of overlapping fields within 1″ are one object; the highest score is kept (unscored rows last)."""
    import numpy as np

    score = np.asarray(table["score"], float)
    return np.where(np.isfinite(score), score, -np.inf), DUPLICATE_RADIUS_ARCMIN


def make_catalog(ref: Any, *, out: Path, options: Mapping[str, Any], given: frozenset[str], truth: Path | None,
                 batch_size: int, progress: bool, echo: Callable[[str], None], model: Any = None) -> None:
    """Score lens cutouts with ``ref`` and write the catalog (:meth:`skysieve.tasks.Search.make_catalog`).

    ``model``: the classifier loaded by :func:`load_catalog_model` (survey fields), else it is loaded from ``ref``.
    """
    from skysieve.catalog import write_catalog
    from skysieve.errors import ConfigError
    from skysieve.tasks.lens.catalog import load_lens_catalog_model, make_lens_catalog

    usage = "give --cutouts DIR, or --images A.fits B.fits C.fits (one per band) --positions pos.fits"
    images, extra = options["images"], options["extra"]
    if extra and not images:
        raise ConfigError(f"unexpected argument(s) {extra}; {ref.where} is a lens classifier: {usage}")
    result = make_lens_catalog(model=load_lens_catalog_model(ref) if model is None else model, cutouts=options["cutouts"],
                               images=[*(images or []), *extra] or None, positions=options["positions"],
                               truth=truth, batch_size=batch_size, progress=progress)
    write_catalog(result, out)
    s = result.summary
    echo(f"wrote {out}: {s['n_rows']} cutouts, {s['n_scored']} scored, {s['n_lenses']} lenses (score ≥ "
         f"{s['threshold']:g}, operating point {s['operating_point']}) in {s['t_total_s']:.1f} s "
         f"[{ref.name} v{ref.version}]")
    if s.get("n_edge"):
        echo(f"{s['n_edge']} positions not scored: their cutout is not inside every image (flag_edge); "
             f"{s['n_off_image']} of them off an image (off_image)")
    if s["n_nan"]:
        echo(f"{s['n_nan']} cutouts not scored: NaN or infinite pixels (flag_nan)")
    if result.truth is not None:
        c = result.truth["cnn"]
        echo(f"truth: {s['n_truth']} scored rows with a label ({s['n_truth_lenses']} lenses); "
             f"{s['n_truth_unmatched']} rows without one")
        from skysieve.evaluate import ratio_intervals

        iv = ratio_intervals(c)
        echo(f"{'method':<14}{'purity':>8}{'complete':>10}{'F1':>8}{'TP':>6}{'FP':>6}{'FN':>6}{'TN':>6}")
        echo(f"{'cnn':<14}{c.purity:>8.3f}{c.completeness:>10.3f}{c.f1:>8.3f}{c.tp:>6}{c.fp:>6}{c.fn:>6}{c.tn:>6}")
        echo(f"{'':<14}95 % (Wilson): purity {iv['purity'][0]:.2f}–{iv['purity'][1]:.2f}, "
             f"completeness {iv['completeness'][0]:.2f}–{iv['completeness'][1]:.2f}")
