"""``skysieve tune <search>``: an Optuna study over k-fold CV; writes the best params as JSON."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from skysieve.cli._common import ParamsOption, handle_errors

# Plain numbers (not imported from skysieve.tune, which would load Optuna for --help).
HEARTBEAT_S = 30
GRACE_S = 120

__all__ = ["register", "task_names"]


def task_names(verb: str) -> list[str]:
    """The searches with a ``verb`` stage (``tune``, ``train``): they get the engine's generic command."""
    from skysieve.tasks import searches

    return [name for name, search in searches().items() if any(st.verb == verb for st in search.stages())]


def _command(task: str):
    @handle_errors
    def tune(
        params: ParamsOption = Path("params.yaml"),
        data: Annotated[Path, typer.Option(help="cutout dataset directory")] = Path(f"data/{task}/cutouts"),
        out: Annotated[Path, typer.Option(help="best params JSON")] = Path(f"models/{task}/best_params.json"),
        storage: Annotated[Optional[str], typer.Option(  # noqa: UP045 - typer needs Optional
            help=f"Optuna storage URL (default: $SKYSIEVE_OPTUNA_STORAGE, else tune_{task}.storage); "
                 "workers on one postgresql://… URL share the study")] = None,
        heartbeat: Annotated[int, typer.Option(
            min=1, help="seconds between a running trial's heartbeats in the storage")] = HEARTBEAT_S,
        grace: Annotated[int, typer.Option(
            min=1, help="seconds without a heartbeat after which a trial (its worker gone) is failed and retried")]
            = GRACE_S,
        fresh: Annotated[bool, typer.Option(
            "--fresh", help="delete this search's study from the storage and search anew (by default a study "
                            "that already holds n_trials finished trials is reused without running any)")] = False,
        train_out: Annotated[Path, typer.Option(
            help="the `skysieve train --out` that follows: the best trial's finished fold models are left in "
                 "its checkpoint (TRAIN_OUT.ckpt), so training with the best params reloads them instead of "
                 "training them again")] = Path(f"models/{task}/cnn"),
        handoff: Annotated[bool, typer.Option(
            "--handoff/--no-handoff", help="keep the trials' fold models for that hand-over")] = True,
    ) -> None:
        from skysieve._io import atomic_path
        from skysieve.config import load_params
        from skysieve.train import checkpoint_dir_for
        from skysieve.tune import run_tune

        cfg = load_params(params)
        result = run_tune(getattr(cfg, f"tune_{task}"), getattr(cfg, f"train_{task}"), data_dir=data, task=task,
                          storage=storage, source=str(params), heartbeat_s=heartbeat, grace_s=grace,
                          fresh=fresh, handoff_dir=checkpoint_dir_for(train_out) if handoff else None)
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        typer.echo(f"wrote {out}: best trial {result.best_trial} of study {result.study_name!r}, "
                   f"{result.objective} = {result.best_value:.4f} ({result.n_complete} complete, "
                   f"{result.n_pruned} pruned)")
        if result.handed_over:
            typer.echo(f"the best trial's fold models wait in {result.handed_over} for `skysieve train {task} "
                       f"--out {train_out}`")

    tune.__doc__ = (f"Search tune_{task}.search_space around train_{task} (Optuna TPE, pruning, resumable; "
                    "MLflow study → trial → fold runs).\n\n"
                    f"The study is named {task}-<digest> of the train section, the search, the data and the "
                    "training code, so the same search resumes (raise n_trials to extend it) and changed params, "
                    "data or code start a new one; --fresh discards it and searches again. The best trial's fold "
                    "models are left as the checkpoint of the `skysieve train` that follows (--train-out), which "
                    "reloads them instead of training them again.")
    return tune


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``tune <search>`` for every search with a tune stage."""
    for task in task_names("tune"):
        groups["tune"].command(task)(_command(task))
