"""The ``skysieve`` command line, built from the search registry: ``skysieve <verb> <search>``.

The engine's own commands (``params``, ``tasks``, ``pipeline``, ``tune``,
``train``, ``promote``, ``catalog``, ``gallery``, ``server``) are here; every search adds
its commands (:meth:`skysieve.tasks.Search.commands`) to the verb groups.
Heavy libraries are imported inside the commands so ``skysieve --help`` stays fast.
"""

import importlib

import typer

from skysieve.cli._common import (
    ParamsOption,
    configure_environment,
    configure_logging,
    finish_validation,
    handle_errors,
)

__all__ = ["ParamsOption", "build_app", "finish_validation", "handle_errors", "main"]

#: Verb groups in the order data flows, with their help; a search may add others (``mf``).
VERBS = {
    "simulate": "Simulate skies, fields or cutouts with their truth.",
    "cutouts": "Cut labelled, split cutout datasets out of the simulations.",
    "validate": "Validate datasets; a failed expectation stops `dvc repro` with a report.",
    "tune": "Hyperparameter search with Optuna over k-fold cross-validation.",
    "train": "Train the final CNN ensemble of a search.",
    "evaluate": "Evaluate on the test split at thresholds chosen on validation: metrics, tables, plots.",
    "ensemble": "Combine methods (e.g. matched filter and CNN) and compare them.",
    "register": "Register models with metrics, thresholds, reference scores and provenance.",
}

#: Engine command modules; each defines ``register(app, groups)``.
_ENGINE_MODULES = (
    "skysieve.cli._params",
    "skysieve.cli._tasks",
    "skysieve.cli._tune",
    "skysieve.cli._train",
    "skysieve.cli._promote",
    "skysieve.cli._catalog",
    "skysieve.cli._gallery",
    "skysieve.cli._server",
)


def build_app() -> typer.Typer:
    """Assemble the Typer app: the engine's commands and every registered search's."""
    from skysieve.tasks import searches

    app = typer.Typer(
        name="skysieve",
        help="Deep-learning searches in astronomical images: simulate, cut out, validate, tune, train, evaluate, "
             "ensemble, register, promote and catalog; look at a catalog's candidates (skysieve gallery); list the "
             "searches (skysieve tasks); check the pipeline "
             "files (skysieve pipeline check); run a shared tracking server.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    groups = {verb: typer.Typer(help=text, no_args_is_help=True) for verb, text in VERBS.items()}
    for name in _ENGINE_MODULES:
        importlib.import_module(name).register(app, groups)
    for search in searches().values():
        for command in search.commands():
            group = groups.get(command.verb)
            if group is None:
                group = groups[command.verb] = typer.Typer(help=command.help or f"The {command.verb} commands.",
                                                           no_args_is_help=True)
            group.command(command.name)(handle_errors(command.func))
    for verb, group in groups.items():
        if group.registered_commands:
            app.add_typer(group, name=verb)
    return app


def main(*, prog_name: str | None = None) -> None:
    """Entry point of the ``skysieve`` console script (and of ``python -m skysieve``, as ``prog_name``)."""
    configure_environment()
    configure_logging()
    from skysieve.errors import SkysieveError

    try:
        app = build_app()
    except SkysieveError as exc:  # a broken plug-in or params model: say which
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
    app(prog_name=prog_name)
