"""``skysieve train <task>``: train the final k-fold CNN ensemble and save it under ``models/<task>/cnn``."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from skysieve.cli._common import ParamsOption, handle_errors
from skysieve.cli._tune import task_names

__all__ = ["register"]


def _command(task: str):
    @handle_errors
    def train(
        params: ParamsOption = Path("params.yaml"),
        data: Annotated[Path, typer.Option(help="cutout dataset directory")] = Path(f"data/{task}/cutouts"),
        best_params: Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer needs Optional
            help="JSON from `skysieve tune` whose params override the train section; omit to train as given")] = None,
        out: Annotated[Path, typer.Option(help="model directory (replaced)")] = Path(f"models/{task}/cnn"),
        resume: Annotated[bool, typer.Option(
            help="go on from the checkpoint in OUT.ckpt — left by an interrupted run, or by `skysieve tune` (the "
                 "best trial's finished fold models) — if it was written for the same params and data; "
                 "--no-resume starts from zero")] = True,
    ) -> None:
        from skysieve.config import load_params
        from skysieve.errors import ConfigError
        from skysieve.train import run_train, with_overrides

        cfg = getattr(load_params(params), f"train_{task}")
        overrides = {}
        if best_params is not None:
            if not best_params.is_file():
                raise ConfigError(f"{best_params}: not found; run `skysieve tune {task}` first or drop --best-params")
            try:
                overrides = dict(json.loads(best_params.read_text())["params"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{best_params}: not a `skysieve tune` result with a 'params' mapping ({exc})") from None
            cfg = with_overrides(cfg, overrides, source=str(best_params))
        run = run_train(cfg, data_dir=data, out_dir=out, task=task, overrides=overrides, resume=resume)
        if run.checkpoint_note:
            typer.echo(f"checkpoint not resumed: {run.checkpoint_note}")
        if run.resumed_epochs:
            typer.echo(f"resumed from checkpoint: {run.resumed_epochs} epoch(s) restored, the rest trained")
        m = run.result.metrics
        typer.echo(f"wrote {out}: {len(run.result.ensemble.models)} fold model(s) + Platt; validation "
                   f"PR-AUC {m['val_pr_auc']:.4f}, log-loss {m['val_log_loss_raw']:.4f} → {m['val_log_loss']:.4f} "
                   f"(MLflow run {run.run_id})")

    train.__doc__ = (f"Train the final model of train_{task}: k fold models averaged, Platt-scaled on the "
                     "validation split, tracked in MLflow. Checkpoints every epoch into OUT.ckpt; an interrupted "
                     "run resumes from there.")
    return train


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``train <search>`` for every search with a train stage."""
    for task in task_names("train"):
        groups["train"].command(task)(_command(task))
