"""``skysieve gallery``: a static HTML page of a catalog's candidates, with a thumbnail each."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import handle_errors

__all__ = ["register"]


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the ``gallery`` command to ``app``."""

    @app.command("gallery", context_settings={"allow_extra_args": True})
    @handle_errors
    def gallery(
        ctx: typer.Context,
        catalog: Annotated[Path, typer.Argument(
            help="candidate catalog (FITS, from skysieve catalog): ra, dec in deg")],
        out: Annotated[Path, typer.Option(help="output directory: index.html and thumbs/*.png, replaced atomically")],
        images: Annotated[list[Path] | None, typer.Option(
            help="what the thumbnails are cut from: FITS images with a celestial WCS, one per band (the maps or "
                 "images the catalog was made from); a lens catalog also takes its cutout directory; "
                 "--images A.fits --images B.fits, or --images A.fits B.fits")] = None,
        max_rows: Annotated[int | None, typer.Option(
            "--max", help="show only the best N candidates by the search's score (default: all)")] = None,
        mlflow_url: Annotated[str | None, typer.Option(
            help="the MLflow UI (http://HOST:5000): the model version links to its page there (default: its "
                 "models:/ URI is shown)")] = None,
        task: Annotated[str | None, typer.Option(
            help="the catalog's search when its header has no TASK (skysieve tasks lists them)")] = None,
        size: Annotated[int | None, typer.Option(
            help="cutout side in image pixels (default: the search's, e.g. its CNN tile or cutout)")] = None,
        progress: Annotated[bool | None, typer.Option(
            "--progress/--no-progress", help="progress bar (default: when stderr is a terminal)")] = None,
    ) -> None:
        """Write one static HTML page of a catalog's candidates, sortable by any column, a thumbnail each.

        Each row shows its thumbnail (the search's: a Lupton colour composite of three optical bands, per-band
        panels of millimetre maps with their frequencies, lens cutouts), its score, decisions and truth match where
        the catalog has them; the header names the model version (a link into the MLflow UI with --mlflow-url).
        The page works from disk with no server and no internet. A row outside every image gets a placeholder,
        counted and reported; bad input stops with exit status 2 and nothing written.
        """
        from skysieve.errors import ConfigError
        from skysieve.gallery import write_gallery

        extra = list(ctx.args)
        unknown = [a for a in extra if a.startswith("-")]
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; see skysieve gallery --help")
        paths = [*(images or []), *(Path(a) for a in extra)]  # --images A B: click hands B over as an extra word
        show = sys.stderr.isatty() if progress is None else progress
        write_gallery(catalog, images=paths, out=out, max_rows=max_rows, mlflow_url=mlflow_url, task=task,
                      size_px=size, progress=show, echo=typer.echo)
