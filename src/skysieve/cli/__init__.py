"""The ``skysieve`` command line: one thin command per pipeline stage.

Each ``_<verb>.py`` module defines ``register(app)``; heavy libraries are
imported inside the commands so ``skysieve --help`` stays fast.
"""

import importlib

import typer

from skysieve.cli._common import configure_environment

__all__ = ["build_app", "main"]

#: Command modules, in the order data flows.
_COMMAND_MODULES = (
    "skysieve.cli._params",
    "skysieve.cli._simulate",
    "skysieve.cli._cutouts",
    "skysieve.cli._validate",
    "skysieve.cli._mf",
    "skysieve.cli._tune",
    "skysieve.cli._train",
    "skysieve.cli._evaluate",
    "skysieve.cli._register",
    "skysieve.cli._promote",
    "skysieve.cli._catalog",
    "skysieve.cli._server",
)


def build_app() -> typer.Typer:
    """Assemble the Typer app from every command module."""
    app = typer.Typer(
        name="skysieve",
        help="Deep-learning searches in astronomical images: simulate, cut out, validate, filter, "
        "tune, train, evaluate, ensemble, register, promote and catalog; run a shared tracking server.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    """Entry point of the ``skysieve`` console script."""
    configure_environment()
    build_app()()
