"""``skysieve cutouts``: cut labelled, split cutouts out of the simulated maps."""

from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, handle_errors
from skysieve.cli._lens import register_cutouts_lens

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``cutouts`` command group to ``app``."""
    group = typer.Typer(help="Cut the maps into labelled cutouts with spatial splits.", no_args_is_help=True)

    @group.command("sz")
    @handle_errors
    def sz(
        params: ParamsOption = Path("params.yaml"),
        sky: Annotated[Path, typer.Option(help="directory from `skysieve simulate sz`")] = Path("data/sz/sky"),
        out: Annotated[Path, typer.Option(help="output directory: cutouts.h5 + catalog.fits")] = Path(
            "data/sz/cutouts"),
    ) -> None:
        """Make 8′ cutouts with a 6′ stride, labelled by the halos in their central 6′ (section: cutouts_sz)."""
        from astropy.table import Table

        from skysieve.config import load_params
        from skysieve.data import plan_cutouts, read_maps, write_cutouts
        from skysieve.errors import DataError

        cfg = load_params(params).cutouts_sz
        map_paths = sorted(sky.glob("sky_*.fits"), key=lambda q: float(q.stem.removeprefix("sky_").removesuffix("GHz")))
        if not map_paths:
            raise DataError(f"{sky}: no sky_<band>.fits maps; run `skysieve simulate sz --out {sky}` first")
        maps = read_maps(map_paths)
        halos_path = sky / "halos.fits"
        if not halos_path.is_file():
            raise DataError(f"{halos_path}: halo truth catalog not found; rerun `skysieve simulate sz`")
        catalog = plan_cutouts(maps.data.shape[1:], maps.wcs, maps.pixel_arcmin, Table.read(halos_path), cfg)
        write_cutouts(maps, catalog, out, progress=True)
        n_pos = int(catalog["label"].sum())
        typer.echo(f"wrote {out}: {len(catalog)} cutouts, {n_pos} positive, channels {list(maps.bands)}")

    register_cutouts_lens(group)
    app.add_typer(group, name="cutouts")
