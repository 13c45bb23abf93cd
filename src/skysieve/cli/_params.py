"""``skysieve params``: print the defaults or check a params file."""

from pathlib import Path

import typer

from skysieve.cli._common import ParamsOption, handle_errors

__all__ = ["register"]


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the ``params`` command group to ``app``."""
    group = typer.Typer(help="Inspect and check params files.", no_args_is_help=True)

    @group.command("defaults")
    def defaults() -> None:
        """Print the default params as YAML (every section, every key)."""
        import yaml

        from skysieve.config import Params

        typer.echo(yaml.safe_dump(Params().model_dump(mode="json"), sort_keys=False, width=100), nl=False)

    @group.command("check")
    @handle_errors
    def check(params: ParamsOption = Path("params.yaml")) -> None:
        """Validate a params file: unknown keys, wrong types and out-of-range values are reported."""
        from skysieve.config import load_params

        load_params(params)
        typer.echo(f"{params}: ok")

    app.add_typer(group, name="params")
