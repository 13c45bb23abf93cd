"""``skysieve validate``: great-expectations suites over a cutout dataset."""

from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, finish_validation, handle_errors
from skysieve.cli._lens import register_validate_lens

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command group to ``app``."""
    group = typer.Typer(help="Validate datasets; a failed expectation stops `dvc repro` with a report.",
                        no_args_is_help=True)

    @group.command("sz")
    @handle_errors
    def sz(
        params: ParamsOption = Path("params.yaml"),
        data: Annotated[Path, typer.Option(help="cutout directory from `skysieve cutouts sz`")] = Path(
            "data/sz/cutouts"),
        sky: Annotated[Path, typer.Option(help="sky directory (halos.fits, sources.fits)")] = Path("data/sz/sky"),
        report: Annotated[Path, typer.Option(help="JSON report (a Markdown twin is written beside it)")] = Path(
            "data/sz/validation.json"),
    ) -> None:
        """Check ids, splits, label rate, finiteness, shapes, dtypes and truth ranges (section: validate_sz)."""
        from astropy.table import Table

        from skysieve.config import load_params
        from skysieve.data import band_name, open_dataset, validate_dataset, validate_truth_catalogs

        p = load_params(params)
        dataset = open_dataset(data)
        channels = tuple(band_name(b.freq_ghz) for b in p.simulate_sz.bands)
        size_px = int(round(p.cutouts_sz.size_arcmin / p.simulate_sz.patch.pixel_arcmin))
        result = validate_dataset(dataset, p.validate_sz, expected_channels=channels, size_px=size_px)
        halos = Table.read(sky / "halos.fits") if (sky / "halos.fits").is_file() else None
        sources = Table.read(sky / "sources.fits") if (sky / "sources.fits").is_file() else None
        validate_truth_catalogs(halos, sources, result)
        finish_validation(result, report)

    register_validate_lens(group)
    app.add_typer(group, name="validate")
