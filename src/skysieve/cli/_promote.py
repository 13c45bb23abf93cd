"""``skysieve promote``: move the registry alias ``champion``, guarded by test F1."""

from typing import Annotated

import typer

from skysieve.cli._common import handle_errors

__all__ = ["register"]


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the ``promote`` command to ``app``."""

    @app.command("promote")
    @handle_errors
    def promote(
        name: Annotated[str, typer.Argument(help="registered model name (`skysieve tasks` lists each search's)")],
        version: Annotated[str | None, typer.Option(help="version to promote (default: the 'candidate' alias)")] = None,
        force: Annotated[bool, typer.Option("--force", help="promote even if worse beyond the noise or tested on "
                                                           "other data")] = False,
        reason: Annotated[str | None, typer.Option(help="why; recorded with who and when (needs --force)")] = None,
        rollback: Annotated[bool, typer.Option("--rollback", help="point 'champion' back at the previous one")] = False,
    ) -> None:
        """Make a registered version the champion unless its test F1 is worse than the champion's beyond the noise.

        Compares on the same test data (the data_hash tags): a paired bootstrap of the F1 difference over the
        same test objects where both versions stored their decisions, else their 95 % intervals (refused only if
        the candidate's lies wholly below the champion's); the message gives both figures with their intervals.

        --force --reason TEXT overrides, recorded on the version; --rollback undoes the last promotion.
        """
        from skysieve._tracking import configure_mlflow
        from skysieve._urls import safe_url
        from skysieve.errors import ConfigError
        from skysieve.registry import promote as promote_version
        from skysieve.registry import rollback as rollback_champion

        if rollback and (version is not None or force):
            raise ConfigError("--rollback takes no --version or --force; it returns to the previous champion")
        if reason is not None and not force and not rollback:
            raise ConfigError("--reason is recorded only with --force or --rollback; add --force to override the guard")
        uri = configure_mlflow()
        if rollback:
            result = rollback_champion(name, reason=reason)
        else:
            result = promote_version(name, version=version, force=force, reason=reason)
        typer.echo(f"{result.message}  [{safe_url(uri)}]")
