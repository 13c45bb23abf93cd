"""What every CLI command shares: quiet tools, the params option, error handling."""

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from skysieve.errors import SkysieveError

__all__ = ["ParamsOption", "configure_environment", "configure_logging", "finish_validation", "handle_errors"]

ParamsOption = Annotated[
    Path, typer.Option("--params", "-p", help="params file (one section per stage)", show_default=True)
]


def configure_environment(root: Path | None = None) -> None:
    """Turn off telemetry and keep tool config dirs inside the repo or temp dir.

    Sets environment variables only where the user has not set them already.
    """
    root = Path(root or Path.cwd())
    defaults = {
        "MLFLOW_ENABLE_TELEMETRY": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "DVC_NO_ANALYTICS": "1",
        "GX_ANALYTICS_ENABLED": "False",
        "MPLCONFIGDIR": str(root / ".cache" / "matplotlib"),
        "KERAS_HOME": str(root / ".cache" / "keras"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "GIT_PYTHON_REFRESH": "quiet",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def configure_logging() -> None:
    """Show skysieve's progress lines (the ``skysieve`` loggers at INFO: one line per fold fitted) on stderr.

    Only once per process, and only if the ``skysieve`` logger has no handler yet
    (an application embedding skysieve configures logging itself).
    """
    log = logging.getLogger("skysieve")
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`SkysieveError` into a one-line message and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SkysieveError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            sys.exit(2)

    return wrapper


def finish_validation(result, report: Path) -> None:
    """Write the report; on failure write ``<report>.failed.*``, list the failures and exit 1 (stops ``dvc repro``)."""
    if result.success:
        result.write(report)
        typer.echo(f"validation passed: {result.n_expectations} expectations; report in {report}")
        return
    failed = report.with_name(report.stem + ".failed" + report.suffix)
    result.write(failed)
    report.unlink(missing_ok=True)
    for f in result.failures:
        typer.secho(f"FAILED {f.suite}: {f.expectation}({f.column or ''}) rows={f.unexpected_count} "
                    f"examples={f.examples[:5]} {f.detail}", fg=typer.colors.RED, err=True)
    typer.secho(f"validation failed: {len(result.failures)} of {result.n_expectations} expectations; "
                f"see {failed.with_suffix('.md')}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
