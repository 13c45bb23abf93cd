"""``skysieve catalog``: run a registered model over new maps and write the candidate catalog."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import handle_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` command to ``app``."""

    @app.command("catalog", context_settings={"allow_extra_args": True})
    @handle_errors
    def catalog(
        ctx: typer.Context,
        model: Annotated[str, typer.Option(help="registered ensemble: models:/NAME@ALIAS or models:/NAME/VERSION")],
        maps: Annotated[list[Path], typer.Option(help="one FITS map per band: --maps 90.fits 148.fits 219.fits")],
        out: Annotated[Path, typer.Option(help="output FITS table, written atomically")],
        truth: Annotated[Path | None, typer.Option(help="halo catalog: also print purity, completeness, F1")] = None,
        stride_arcmin: Annotated[float | None, typer.Option(
            help="tile stride (default: half the central size, so every object is near some tile centre)")] = None,
        match_radius_arcmin: Annotated[float, typer.Option(help="candidate-truth matching radius")] = 1.0,
        merge_radius_arcmin: Annotated[float | None, typer.Option(
            help="merge positive tiles of one object within this radius (default: the central size)")] = None,
        batch_size: Annotated[int, typer.Option(help="tiles per CNN forward pass")] = 512,
        mf_block_px: Annotated[int, typer.Option(
            help="maps larger than this on a side go through the matched filter in blocks (memory)")] = 2048,
        cl: Annotated[Path | None, typer.Option(help="CMB spectrum, only for a model whose MF noise model is 'model'")
                      ] = None,
        progress: Annotated[bool | None, typer.Option(
            "--progress/--no-progress", help="progress bar (default: when stderr is a terminal)")] = None,
    ) -> None:
        """Make a candidate catalog from new maps with a registered model (the champion, typically).

        Runs the matched filter with point-source detection, scores overlapping tiles with the CNN, combines
        them with the model's thresholds, merges the tiles of one object and writes a FITS table whose header
        names the model version, thresholds, map checksums and code version. Bad inputs stop it before any
        work, with exit status 2 and nothing written.
        """
        from astropy.table import Table

        from skysieve._tracking import configure_mlflow
        from skysieve.catalog import make_catalog, write_catalog
        from skysieve.ensemble import METHODS
        from skysieve.errors import ConfigError, DataError

        extra = list(ctx.args)
        unknown = [a for a in extra if a.startswith("-")]
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; see skysieve catalog --help")
        map_paths = [*maps, *(Path(a) for a in extra)]  # --maps A B C: click hands B and C over as extra args
        cmb_cl = None
        if cl is not None:
            if not cl.is_file():
                raise DataError(f"{cl}: CMB spectrum not found; run `skysieve simulate cmb-spectrum --out {cl}`")
            cmb_cl = Table.read(cl)
        uri = configure_mlflow()
        result = make_catalog(map_paths, model=model, truth=truth, stride_arcmin=stride_arcmin,
                              match_radius_arcmin=match_radius_arcmin, merge_radius_arcmin=merge_radius_arcmin,
                              batch_size=batch_size, mf_block_px=mf_block_px, cmb_cl=cmb_cl,
                              progress=sys.stderr.isatty() if progress is None else progress)
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
