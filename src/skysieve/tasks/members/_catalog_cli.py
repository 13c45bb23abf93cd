"""How new cutouts become inputs of a registered members classifier: ``skysieve catalog`` options and their use."""

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["CATALOG_HELP", "catalog_help", "catalog_options", "make_catalog"]

CATALOG_HELP = ("either --member-cutouts DIR, a directory of FITS cutouts (one file per source with an image HDU per "
                "band, FILTER keyword, BUNIT electron/s, the model's pixel scale and size), or --member-images with "
                "one large image per band (FILTER, celestial WCS, BUNIT, the model's pixel scale) and "
                "--member-positions with the ra, dec (deg) and optional id of the sources. One row per source: id, "
                "ra, dec, member_prob, is_member (at the registered threshold, chosen on validation and out-of-fold "
                "training scores for a target purity) and flags (1 missing band, 2 NaN pixels, 4 cutout not inside "
                "every image: not scored, counted).")


def catalog_options() -> tuple[inspect.Parameter, ...]:
    """The options of ``skysieve catalog`` a members classifier reads."""
    kw = inspect.Parameter.KEYWORD_ONLY
    return (
        inspect.Parameter("member_cutouts", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            help="members: directory of multi-band FITS cutouts, one file per source, an image HDU per band "
                 "(FILTER keyword)")]),
        inspect.Parameter("member_images", kw, default=None, annotation=Annotated[list[Path] | None, typer.Option(
            help="members: one large FITS image per band (FILTER, celestial WCS, BUNIT): --member-images "
                 "f435w.fits --member-images f606w.fits …")]),
        inspect.Parameter("member_positions", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            help="members, with --member-images: table (.fits, .csv, .ecsv) of ra, dec in degrees and an optional "
                 "id")]),
    )


def catalog_help() -> str:
    """One paragraph for ``skysieve catalog --help``."""
    return CATALOG_HELP


def make_catalog(ref: Any, *, out: Path, options: Mapping[str, Any], given: frozenset[str], truth: Path | None,
                 batch_size: int, progress: bool, echo: Callable[[str], None], model: Any = None) -> None:
    """Score the cutouts with ``ref`` and write the catalog atomically (:meth:`skysieve.tasks.Search.make_catalog`)."""
    from skysieve.catalog import write_catalog
    from skysieve.errors import ConfigError
    from skysieve.tasks.members.catalog import (
        load_members_catalog_model,
        make_members_catalog,
        make_members_catalog_at_positions,
    )

    usage = ("give --member-cutouts DIR, or --member-images A.fits --member-images B.fits … (one per band) "
             "--member-positions pos.fits")
    cutouts, images, positions = (options.get(k) for k in ("member_cutouts", "member_images", "member_positions"))
    images = [*(images or []), *(options.get("extra") or [])] if images else images  # --member-images a b c
    if options.get("extra") and not images:
        raise ConfigError(f"unexpected argument(s) {options['extra']}; {ref.where} is a members classifier: {usage}")
    if (cutouts is None) == (not images) or bool(images) != (positions is not None):
        raise ConfigError(f"{ref.where} is a members classifier: {usage} (one of the two inputs)")
    if truth is not None:
        raise ConfigError("--truth is not supported for members catalogs; compare member_prob with your redshifts")
    loaded = model if model is not None else load_members_catalog_model(ref)
    if images:
        result = make_members_catalog_at_positions(loaded, list(images), positions, batch_size=batch_size)
    else:
        result = make_members_catalog(loaded, cutouts, batch_size=batch_size, progress=progress)
    write_catalog(result, out)
    s = result.summary
    echo(f"wrote {out}: {s['n_rows']} cutouts, {s['n_scored']} scored, {s['n_members']} members "
         f"(member_prob ≥ {s['threshold']:.3g}) [{ref.name} v{ref.version}]")
    if s.get("n_edge"):
        echo(f"{s['n_edge']} positions not scored: their cutout is not inside every image (flag 4, flag_edge); "
             f"{s['n_off_image']} of them off an image (off_image)")
    if s["n_missing_band"] or s["n_nan"]:
        echo(f"skipped: {s['n_missing_band']} missing a band (flag 1), {s['n_nan']} with NaN pixels (flag 2)")
