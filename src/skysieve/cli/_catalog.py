"""``skysieve catalog``: run a registered model over new data and write the candidate catalog.

The model decides the inputs: an SZ ensemble takes band maps (``--maps``), a
lens classifier (version tag ``skysieve.task = lens``) takes a directory of
multi-band cutouts (``--cutouts``) or large band images and positions
(``--images`` … ``--positions``).
"""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from skysieve.cli._common import handle_errors

__all__ = ["register"]

#: Options that only the SZ ensemble's catalog reads.
_SZ_ONLY = ("stride_arcmin", "match_radius_arcmin", "merge_radius_arcmin", "mf_block_px", "cl")

#: ``skysieve catalog --help``; paragraphs are unwrapped so the terminal wraps them.
_HELP = """
Make a candidate catalog with a registered model (the champion, typically); the model decides the inputs.

SZ ensemble (e.g. models:/skysieve-sz-ensemble@champion): --maps takes one FITS map per band (FREQ, BUNIT
uK_CMB, celestial WCS). Runs the matched filter with point-source detection, scores overlapping tiles with the
CNN, combines them with the model's thresholds and merges the tiles of one object.

Lens classifier (e.g. models:/skysieve-lens-cnn@champion): either --cutouts DIR, a directory of FITS cutouts (one
image HDU per band identified by its FILTER keyword, or per-band files <stem>_<FILTER>.fits; larger cutouts are
centre-cropped to the model's size), or --images with one large image per band and --positions with the ra, dec
(deg) of the objects to cut out. Bands, pixel scale (within 1%) and BUNIT must be the model's. One row per cutout:
id, ra, dec, score, is_lens, percentile and flags.

The header names the model version, its thresholds, the inputs' checksums and the code version. Bad inputs stop
it before any work, with exit status 2 and nothing written.
"""


def _unwrap(text: str) -> str:
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n"))


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was typed on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return getattr(source, "name", None) == "COMMANDLINE"  # typer's vendored click has its own ParameterSource


def _lens(ctx: typer.Context, ref: Any, *, maps, cutouts, images, positions, extra, out, truth, batch_size,
          progress) -> None:
    from skysieve.catalog import load_lens_catalog_model, make_lens_catalog, write_catalog
    from skysieve.errors import ConfigError

    usage = "give --cutouts DIR, or --images A.fits B.fits C.fits (one per band) --positions pos.fits"
    if maps:
        raise ConfigError(f"{ref.where} is a lens classifier: {usage} (--maps {maps[0]} … is for SZ ensembles)")
    sz_only = [f"--{n.replace('_', '-')}" for n in _SZ_ONLY if _given(ctx, n)]
    if sz_only:
        raise ConfigError(f"{', '.join(sz_only)} apply to SZ maps; {ref.where} is a lens classifier: {usage}")
    if extra and not images:
        raise ConfigError(f"unexpected argument(s) {extra}; see skysieve catalog --help")
    result = make_lens_catalog(model=load_lens_catalog_model(ref), cutouts=cutouts,
                               images=[*(images or []), *extra] or None, positions=positions, truth=truth,
                               batch_size=batch_size, progress=progress)
    write_catalog(result, out)
    s = result.summary
    typer.echo(f"wrote {out}: {s['n_rows']} cutouts, {s['n_scored']} scored, {s['n_lenses']} lenses (score ≥ "
               f"{s['threshold']:g}, operating point {s['operating_point']}) in {s['t_total_s']:.1f} s "
               f"[{ref.name} v{ref.version}]")
    if s.get("n_edge"):
        typer.echo(f"{s['n_edge']} positions not scored: their cutout is not inside every image (flag_edge); "
                   f"{s['n_off_image']} of them off an image (off_image)")
    if s["n_nan"]:
        typer.echo(f"{s['n_nan']} cutouts not scored: NaN or infinite pixels (flag_nan)")
    if result.truth is not None:
        c = result.truth["cnn"]
        typer.echo(f"truth: {s['n_truth']} scored rows with a label ({s['n_truth_lenses']} lenses); "
                   f"{s['n_truth_unmatched']} rows without one")
        typer.echo(f"{'method':<14}{'purity':>8}{'complete':>10}{'F1':>8}{'TP':>6}{'FP':>6}{'FN':>6}{'TN':>6}")
        typer.echo(f"{'cnn':<14}{c.purity:>8.3f}{c.completeness:>10.3f}{c.f1:>8.3f}{c.tp:>6}{c.fp:>6}{c.fn:>6}"
                   f"{c.tn:>6}")


def _sz(ref: Any, *, maps, cutouts, images, positions, extra, out, truth, stride_arcmin, match_radius_arcmin,
        merge_radius_arcmin, batch_size, mf_block_px, cl, progress, uri) -> None:
    from astropy.table import Table

    from skysieve.catalog import make_catalog, write_catalog
    from skysieve.ensemble import METHODS
    from skysieve.errors import ConfigError, DataError

    lens_inputs = [(o, v) for o, v in (("--cutouts", cutouts), ("--images", images and images[0]),
                                       ("--positions", positions)) if v]
    if lens_inputs:
        opt, value = lens_inputs[0]
        raise ConfigError(f"{ref.where} is an SZ ensemble: give --maps 90.fits 148.fits 219.fits (one FITS map per "
                          f"band); {opt} {value} is for lens classifiers")
    map_paths = [*(maps or []), *(Path(a) for a in extra)]  # --maps A B C: click hands B and C over as extra args
    if not map_paths:
        raise ConfigError(f"{ref.where} is an SZ ensemble: give --maps with one FITS map per band")
    cmb_cl = None
    if cl is not None:
        if not cl.is_file():
            raise DataError(f"{cl}: CMB spectrum not found; run `skysieve simulate cmb-spectrum --out {cl}`")
        cmb_cl = Table.read(cl)
    result = make_catalog(map_paths, model=ref.uri, truth=truth, stride_arcmin=stride_arcmin,
                          match_radius_arcmin=match_radius_arcmin, merge_radius_arcmin=merge_radius_arcmin,
                          batch_size=batch_size, mf_block_px=mf_block_px, cmb_cl=cmb_cl, progress=progress)
    write_catalog(result, out)
    s, meta = result.summary, result.table.meta
    by = ", ".join(f"{m} {s['n_candidates_by_method'][m]}" for m in METHODS)
    typer.echo(f"wrote {out}: {s['n_candidates']} candidates ({by}) from {s['n_tiles']} tiles "
               f"({s['n_detections']} MF detections, {s['n_sources']} point sources) in {s['t_total_s']:.1f} s "
               f"[{meta['MODEL']} v{meta['MODELVER']}, {uri}]")
    if result.truth is not None:
        typer.echo(f"truth: {s['n_true']} objects within {match_radius_arcmin}′ matching radius")
        typer.echo(f"{'method':<14}{'purity':>8}{'complete':>10}{'F1':>8}{'TP':>6}{'FP':>6}{'FN':>6}")
        for m, c in result.truth.items():
            typer.echo(f"{m:<14}{c.purity:>8.3f}{c.completeness:>10.3f}{c.f1:>8.3f}{c.tp:>6}{c.fp:>6}{c.fn:>6}")


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` command to ``app``."""

    @app.command("catalog", help=_unwrap(_HELP), context_settings={"allow_extra_args": True})
    @handle_errors
    def catalog(
        ctx: typer.Context,
        model: Annotated[str, typer.Option(
            help="registered model: models:/NAME@ALIAS or models:/NAME/VERSION (SZ ensemble or lens CNN)")],
        out: Annotated[Path, typer.Option(help="output FITS table, written atomically")],
        maps: Annotated[list[Path] | None, typer.Option(
            help="SZ: one FITS map per band: --maps 90.fits 148.fits 219.fits")] = None,
        cutouts: Annotated[Path | None, typer.Option(
            help="lens: directory of FITS cutouts, one file per cutout with an image HDU per band (FILTER keyword), "
                 "or one file per band named <stem>_<FILTER>.fits")] = None,
        images: Annotated[list[Path] | None, typer.Option(
            help="lens: one large FITS image per band (FILTER, celestial WCS): --images f435w.fits f606w.fits "
                 "f814w.fits")] = None,
        positions: Annotated[Path | None, typer.Option(
            help="lens, with --images: table (.fits, .csv, .ecsv) of ra, dec in degrees and an optional id")] = None,
        truth: Annotated[Path | None, typer.Option(
            help="SZ: halo catalog; lens: table of id and label (1 = lens). Also print purity, completeness, F1")
        ] = None,
        stride_arcmin: Annotated[float | None, typer.Option(
            help="SZ: tile stride (default: half the central size, so every object is near some tile centre)")] = None,
        match_radius_arcmin: Annotated[float, typer.Option(help="SZ: candidate-truth matching radius")] = 1.0,
        merge_radius_arcmin: Annotated[float | None, typer.Option(
            help="SZ: merge positive tiles of one object within this radius (default: the central size)")] = None,
        batch_size: Annotated[int, typer.Option(help="tiles (SZ) or cutouts (lens) per CNN forward pass")] = 512,
        mf_block_px: Annotated[int, typer.Option(
            help="SZ: maps larger than this on a side go through the matched filter in blocks (memory)")] = 2048,
        cl: Annotated[Path | None, typer.Option(
            help="SZ: CMB spectrum, only for a model whose MF noise model is 'model'")] = None,
        progress: Annotated[bool | None, typer.Option(
            "--progress/--no-progress", help="progress bar (default: when stderr is a terminal)")] = None,
    ) -> None:
        """Make a candidate catalog with a registered model; the model decides the inputs (see _HELP)."""
        from skysieve._tracking import configure_mlflow
        from skysieve.catalog import resolve_model
        from skysieve.errors import ConfigError

        extra = list(ctx.args)
        unknown = [a for a in extra if a.startswith("-")]
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; see skysieve catalog --help")
        uri = configure_mlflow()
        ref = resolve_model(model)
        show = sys.stderr.isatty() if progress is None else progress
        if ref.task == "lens":
            _lens(ctx, ref, maps=maps, cutouts=cutouts, images=images, positions=positions, extra=extra, out=out,
                  truth=truth, batch_size=batch_size, progress=show)
        else:
            _sz(ref, maps=maps, cutouts=cutouts, images=images, positions=positions, extra=extra, out=out,
                truth=truth, stride_arcmin=stride_arcmin, match_radius_arcmin=match_radius_arcmin,
                merge_radius_arcmin=merge_radius_arcmin, batch_size=batch_size, mf_block_px=mf_block_px, cl=cl,
                progress=show, uri=uri)
