"""The ``lens`` commands of ``skysieve simulate``, ``cutouts`` and ``validate`` (issue 6).

Each ``register_*`` adds one command to an existing group; heavy libraries
are imported inside the commands.
"""

from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, finish_validation, handle_errors

__all__ = ["register_cutouts_lens", "register_simulate_lens", "register_validate_lens"]


def register_simulate_lens(group: typer.Typer) -> None:
    """Add ``simulate lens`` to the ``simulate`` group."""

    @group.command("lens")
    @handle_errors
    def lens(
        params: ParamsOption = Path("params.yaml"),
        out: Annotated[Path, typer.Option(help="output directory: stamps.h5 + truth.fits")] = Path("data/lens/sim"),
        workers: Annotated[int, typer.Option(help="worker processes (0: one per CPU); results do not depend on it",
                                             min=0)] = 0,
    ) -> None:
        """Simulate HST-like member cutouts with and without lensed sources (sections: cosmology, simulate_lens)."""
        import os
        import time

        import numpy as np

        from skysieve.config import load_params
        from skysieve.sim import write_lens_simulation

        p = load_params(params)
        cfg = p.simulate_lens
        n_workers = workers or os.cpu_count() or 1
        t0 = time.perf_counter()
        truth = write_lens_simulation(cfg, p.cosmology, out, seed=cfg.seed, workers=n_workers, progress=True)
        kinds, counts = np.unique(np.asarray(truth["kind"], dtype=str), return_counts=True)
        typer.echo(f"wrote {out}: {len(truth)} cutouts of {cfg.size_px}×{cfg.size_px} px in "
                   f"{[b.name for b in cfg.bands]}, {int(truth['label'].sum())} lenses "
                   f"({', '.join(f'{k} {c}' for k, c in zip(kinds, counts))}) in {time.perf_counter() - t0:.0f} s "
                   f"on {n_workers} workers")


def register_cutouts_lens(group: typer.Typer) -> None:
    """Add ``cutouts lens`` to the ``cutouts`` group."""

    @group.command("lens")
    @handle_errors
    def lens(
        params: ParamsOption = Path("params.yaml"),
        sim: Annotated[Path, typer.Option(help="directory from `skysieve simulate lens`")] = Path("data/lens/sim"),
        out: Annotated[Path, typer.Option(help="output directory: cutouts.h5 + catalog.fits")] = Path(
            "data/lens/cutouts"),
    ) -> None:
        """Pick channels; assign val/test hold-outs by label and lens group (section: cutouts_lens)."""
        import numpy as np

        from skysieve.config import load_params
        from skysieve.data import make_lens_cutouts

        cfg = load_params(params).cutouts_lens
        catalog = make_lens_cutouts(sim, out, cfg)
        split = np.asarray(catalog["split"], dtype=str)
        label = np.asarray(catalog["label"])
        per = ", ".join(f"{s} {int((split == s).sum())} ({int(label[split == s].sum())} lenses)"
                        for s in ("train", "val", "test"))
        typer.echo(f"wrote {out}: {len(catalog)} cutouts, channels {catalog.meta['CHANNELS']}; {per}")


def register_validate_lens(group: typer.Typer) -> None:
    """Add ``validate lens`` to the ``validate`` group."""

    @group.command("lens")
    @handle_errors
    def lens(
        params: ParamsOption = Path("params.yaml"),
        data: Annotated[Path, typer.Option(help="cutout directory from `skysieve cutouts lens`")] = Path(
            "data/lens/cutouts"),
        report: Annotated[Path, typer.Option(help="JSON report (a Markdown twin is written beside it)")] = Path(
            "data/lens/validation.json"),
    ) -> None:
        """Check ids, splits, groups, label rate, pixels, shapes and lens truth (section: validate_lens)."""
        from skysieve.config import load_params
        from skysieve.data import open_dataset, validate_dataset, validate_lens_catalog

        p = load_params(params)
        sim = p.simulate_lens
        dataset = open_dataset(data)
        channels = p.cutouts_lens.channels or tuple(b.name for b in sim.bands)
        result = validate_dataset(dataset, p.validate_lens, expected_channels=tuple(channels), size_px=sim.size_px)
        validate_lens_catalog(dataset.catalog, result, theta_e_range_arcsec=sim.members.theta_e_range_arcsec,
                              src_mag_max=sim.sources.mag_range[1], dz_min=sim.sources.dz_min,
                              reference_band=sim.reference_band)
        finish_validation(result, report)
