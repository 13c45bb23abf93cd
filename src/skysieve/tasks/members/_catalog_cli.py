"""How new cutouts become inputs of a registered members classifier: ``skysieve catalog`` options and their use."""

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["CATALOG_HELP", "catalog_help", "catalog_options", "make_catalog"]

CATALOG_HELP = ("--member-cutouts DIR: a directory of FITS cutouts, one file per source with an image HDU per band "
                "(FILTER keyword), BUNIT electron/s and the model's pixel scale and size. One row per file: id, ra, "
                "dec, member_prob, is_member (at the registered threshold, chosen on validation and out-of-fold "
                "training scores for a target purity) and flags (1 missing band, 2 NaN pixels: skipped and counted).")


def catalog_options() -> tuple[inspect.Parameter, ...]:
    """The option of ``skysieve catalog`` a members classifier reads."""
    return (inspect.Parameter("member_cutouts", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[Path | None, typer.Option(
                                  help="members: directory of multi-band FITS cutouts, one file per source, an "
                                       "image HDU per band (FILTER keyword)")]),)


def catalog_help() -> str:
    """One paragraph for ``skysieve catalog --help``."""
    return CATALOG_HELP


def make_catalog(ref: Any, *, out: Path, options: Mapping[str, Any], given: frozenset[str], truth: Path | None,
                 batch_size: int, progress: bool, echo: Callable[[str], None], model: Any = None) -> None:
    """Score the cutouts with ``ref`` and write the catalog atomically (:meth:`skysieve.tasks.Search.make_catalog`)."""
    from skysieve.catalog import write_catalog
    from skysieve.errors import ConfigError
    from skysieve.tasks.members.catalog import load_members_catalog_model, make_members_catalog

    if options.get("member_cutouts") is None:
        raise ConfigError(f"{ref.where} is a members classifier: give --member-cutouts DIR")
    if options.get("extra"):
        raise ConfigError(f"unexpected argument(s) {options['extra']}; give --member-cutouts DIR")
    if truth is not None:
        raise ConfigError("--truth is not supported for members catalogs; compare member_prob with your redshifts")
    loaded = model if model is not None else load_members_catalog_model(ref)
    result = make_members_catalog(loaded, options["member_cutouts"], batch_size=batch_size, progress=progress)
    write_catalog(result, out)
    s = result.summary
    echo(f"wrote {out}: {s['n_rows']} cutouts, {s['n_scored']} scored, {s['n_members']} members "
         f"(member_prob ≥ {s['threshold']:.3g}) [{ref.name} v{ref.version}]")
    if s["n_missing_band"] or s["n_nan"]:
        echo(f"skipped: {s['n_missing_band']} missing a band (flag 1), {s['n_nan']} with NaN pixels (flag 2)")
