"""``skysieve simulate``: the CMB spectrum and the simulated skies."""

from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, handle_errors
from skysieve.cli._lens import register_simulate_lens

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command group to ``app``."""
    group = typer.Typer(help="Simulate skies: the CAMB CMB spectrum and the multi-band SZ sky.",
                        no_args_is_help=True)

    @group.command("cmb-spectrum")
    @handle_errors
    def cmb_spectrum(
        params: ParamsOption = Path("params.yaml"),
        out: Annotated[Path, typer.Option(help="FITS table of ell and lensed C_ell^TT [µK²]")] = Path(
            "data/sz/cmb_cl.fits"),
    ) -> None:
        """Compute the lensed CMB TT spectrum with CAMB (sections: cosmology, cmb_spectrum). Takes ~20 s."""
        from skysieve._io import atomic_path
        from skysieve.config import load_params
        from skysieve.sim import compute_cmb_spectrum

        p = load_params(params)
        table = compute_cmb_spectrum(p.cosmology, p.cmb_spectrum)
        with atomic_path(out) as tmp:
            table.write(tmp, format="fits")
        typer.echo(f"wrote {out} (lmax={p.cmb_spectrum.lmax})")

    @group.command("sz")
    @handle_errors
    def sz(
        params: ParamsOption = Path("params.yaml"),
        cl: Annotated[Path, typer.Option(help="CMB spectrum from `skysieve simulate cmb-spectrum`")] = Path(
            "data/sz/cmb_cl.fits"),
        out: Annotated[Path, typer.Option(help="output directory: sky_<band>.fits, halos.fits, sources.fits")] = Path(
            "data/sz/sky"),
    ) -> None:
        """Simulate the multi-band mm-wave sky (sections: cosmology, simulate_sz)."""
        from astropy.table import Table

        from skysieve._io import atomic_path
        from skysieve.config import load_params
        from skysieve.errors import DataError
        from skysieve.sim import simulate_sky, write_sky

        p = load_params(params)
        cfg = p.simulate_sz
        spectrum = None
        if cfg.components.cmb:
            if not cl.is_file():
                raise DataError(f"{cl}: CMB spectrum not found; run `skysieve simulate cmb-spectrum --out {cl}` first")
            spectrum = Table.read(cl)
        sky = simulate_sky(cfg, p.cosmology, cl=spectrum, seed=cfg.seed)
        with atomic_path(out) as tmp:
            tmp.mkdir()
            write_sky(sky, tmp)
        typer.echo(f"wrote {out}: {len(sky.freqs_ghz)} bands of {sky.maps.shape[1]}×{sky.maps.shape[2]} px, "
                   f"{len(sky.halos)} halos, {len(sky.sources)} point sources")

    register_simulate_lens(group)
    app.add_typer(group, name="simulate")
