"""``skysieve validate``: great-expectations suites over a cutout dataset."""

from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, handle_errors
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
        if result.success:
            result.write(report)
            typer.echo(f"validation passed: {result.n_expectations} expectations; report in {report}")
            return
        failed = report.with_name(report.stem + ".failed" + report.suffix)
        result.write(failed)
        report.unlink(missing_ok=True)
        for f in result.failures:
            typer.secho(f"FAILED {f.suite}: {f.expectation}({f.column or ''}) rows={f.unexpected_count} "
                        f"examples={f.examples[:5]} {f.detail}", fg=typer.colors.RED, err=True)
        typer.secho(f"validation failed: {len(result.failures)} of {result.n_expectations} expectations; "
                    f"see {failed.with_suffix('.md')}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)

    register_validate_lens(group)
    app.add_typer(group, name="validate")
