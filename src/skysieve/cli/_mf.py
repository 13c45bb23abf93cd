"""``skysieve mf``: the matched filter over the simulated maps, one SNR per cutout."""

from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, handle_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``mf`` command group to ``app``."""
    group = typer.Typer(help="Matched-filter cluster finding: detections and per-cutout SNR.", no_args_is_help=True)

    @group.command("sz")
    @handle_errors
    def sz(
        params: ParamsOption = Path("params.yaml"),
        sky: Annotated[Path, typer.Option(help="directory from `skysieve simulate sz`")] = Path("data/sz/sky"),
        cl: Annotated[Path, typer.Option(help="CMB spectrum (used when mf_sz.noise_model is 'model')")] = Path(
            "data/sz/cmb_cl.fits"),
        cutouts: Annotated[Path, typer.Option(help="directory from `skysieve cutouts sz`")] = Path("data/sz/cutouts"),
        out: Annotated[Path, typer.Option(help="output directory: detections.fits, mf_snr.fits, summary.json")] = Path(
            "data/sz/mf"),
    ) -> None:
        """Filter the maps at 12 scales, find and match detections, score every cutout (sections: mf_sz,
        simulate_sz.bands)."""
        import json

        from astropy.table import Table

        from skysieve._io import atomic_path
        from skysieve.config import load_params
        from skysieve.data import band_name, open_dataset, read_maps
        from skysieve.errors import DataError
        from skysieve.mf import read_source_catalog, run_mf_sz

        p = load_params(params)
        cfg, bands = p.mf_sz, p.simulate_sz.bands
        maps = read_maps([sky / f"sky_{band_name(b.freq_ghz)}.fits" for b in bands])
        halos_path = sky / "halos.fits"
        if not halos_path.is_file():
            raise DataError(f"{halos_path}: halo truth catalog not found; rerun `skysieve simulate sz`")
        sources = None if cfg.sources == "detect" else read_source_catalog(sky / "sources.fits",
                                                                           freqs_ghz=maps.freqs_ghz)
        if cfg.noise_model == "model" and not cl.is_file():
            raise DataError(f"{cl}: CMB spectrum not found; run `skysieve simulate cmb-spectrum --out {cl}`")
        catalog = open_dataset(cutouts).catalog
        central_px = int(catalog.meta.get("CENTRAL", round(p.cutouts_sz.central_arcmin / maps.pixel_arcmin)))
        result = run_mf_sz(maps, params=cfg, bands=bands, cutouts=catalog, central_px=central_px,
                           halos=Table.read(halos_path), sources=sources,
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

    app.add_typer(group, name="mf")
