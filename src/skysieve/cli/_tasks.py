"""``skysieve tasks``: the registered searches; ``skysieve pipeline check``: dvc.yaml and MLproject against them."""

import json
from pathlib import Path
from typing import Annotated

import typer

from skysieve.cli._common import ParamsOption, handle_errors

__all__ = ["register"]


def _describe(params_path: Path) -> list[dict]:
    from skysieve.config import load_params, params_model
    from skysieve.tasks import searches

    params = load_params(params_path) if params_path.is_file() else params_model()()
    rows = []
    for name, search in searches().items():
        rows.append({
            "name": name,
            "title": search.title,
            "paper": search.paper,
            "doc": search.doc,
            "module": type(search).__module__,
            "params_sections": [s.name for s in search.sections()],
            "stages": [{"name": st.name, "command": f"skysieve {st.verb} {st.command}", "params": list(st.params)}
                       for st in search.stages()],
            "commands": [f"skysieve {c.verb} {c.name}" for c in search.commands()],
            "model_names": list(search.model_names(params)),
            "validation_metrics": [f"{name}.{m}" for m in search.validation_metrics],
        })
    return rows


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``tasks`` and the ``pipeline`` group to ``app``."""

    @app.command("tasks")
    @handle_errors
    def tasks(
        params: ParamsOption = Path("params.yaml"),
        as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
    ) -> None:
        """List the registered searches: their stages, params sections, commands, model names and validation metrics.

        Searches come from the `skysieve.tasks` entry-point group (and $SKYSIEVE_TASKS=module:attribute); model
        names are read from --params when it exists, else the defaults.
        """
        rows = _describe(params)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            typer.secho(f"{row['name']}: {row['title']}", bold=True)
            typer.echo(f"  paper: {row['paper'] or '-'}   docs: {row['doc'] or '-'}   module: {row['module']}")
            typer.echo(f"  params sections: {', '.join(row['params_sections'])}")
            typer.echo(f"  registered models: {', '.join(row['model_names']) or '-'}")
            if row["validation_metrics"]:
                typer.echo(f"  validation metrics (train_<task>.monitor): {', '.join(row['validation_metrics'])}")
            typer.echo("  stages:")
            for st in row["stages"]:
                typer.echo(f"    {st['name']:<16} {st['command']:<34} params: {', '.join(st['params'])}")

    group = typer.Typer(help="Check the pipeline files (dvc.yaml, MLproject) against the registered searches.",
                        no_args_is_help=True)

    @group.command("check")
    @handle_errors
    def check(
        root: Annotated[Path, typer.Option(help="repository root holding dvc.yaml and MLproject")] = Path("."),
        search: Annotated[list[str] | None, typer.Option(help="check only this search (repeatable)")] = None,
    ) -> None:
        """Fail (exit 1) when a search's stage is missing from dvc.yaml or MLproject, runs another command, lists
        params its command does not read (or omits one it reads), or does not depend on the code it runs."""
        from skysieve.tasks._check import check_pipeline

        problems = check_pipeline(root, only=search)
        for line in problems:
            typer.secho(line, fg=typer.colors.RED, err=True)
        if problems:
            typer.secho(f"pipeline check failed: {len(problems)} problem(s)", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)
        typer.echo("pipeline check passed: dvc.yaml and MLproject agree with every registered search")

    app.add_typer(group, name="pipeline")
