"""``skysieve catalog``: run a registered model over new data and write the candidate catalog.

The model decides the inputs: the version's ``skysieve.task`` tag names the
search that serves it, and that search reads its own options
(:meth:`skysieve.tasks.Search.catalog_options`) and makes the catalog.  The
options of every registered search are on the one command; an option that
belongs to another search's models is refused with what to give instead.
"""

import inspect
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from skysieve.cli._common import handle_errors

__all__ = ["register"]

_HELP = """
Make a candidate catalog with a registered model (the champion, typically); the model decides the inputs: each
search's models take the options listed for it below.

The header names the model version, its thresholds, the inputs' checksums and the code version. Bad inputs stop
it before any work, with exit status 2 and nothing written.

A survey: --fields takes many fields (directories, globs such as 'fields/*', or a .txt file listing them; each
field a directory of one set of the search's inputs, see below) and writes --out as one catalog of every field,
duplicates across overlaps removed, with a 'field' column and a FIELDS table of every input's sha256. Each field's
catalog and manifest go to survey.fields/<field>/ beside --out survey.fits, written atomically; a second run skips
the fields done (verified by sha256). Fields run one after the other, or on --workers N local processes, or on the
Dask cluster of --scheduler tcp://HOST:8786 (`dask scheduler`, `dask worker`); each worker loads the model once. A
failed field is retried (--retries), then reported with its reason while the others finish; the exit status is then
1.
"""


def _unwrap(text: str) -> str:
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n"))


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was typed on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return getattr(source, "name", None) == "COMMANDLINE"  # typer's vendored click has its own ParameterSource


def _engine_parameters() -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter("model", kw, annotation=Annotated[str, typer.Option(
            help="registered model: models:/NAME@ALIAS or models:/NAME/VERSION")]),
        inspect.Parameter("out", kw, annotation=Annotated[Path, typer.Option(
            help="output FITS table, written atomically")]),
        inspect.Parameter("truth", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            help="a truth table for the inputs, in the form the model's search reads (see above); also print "
                 "purity, completeness and F1")]),
        inspect.Parameter("batch_size", kw, default=512, annotation=Annotated[int, typer.Option(
            help="cutouts or tiles per CNN forward pass")]),
        inspect.Parameter("progress", kw, default=None, annotation=Annotated[bool | None, typer.Option(
            "--progress/--no-progress", help="progress bar (default: when stderr is a terminal)")]),
        inspect.Parameter("fields", kw, default=None, annotation=Annotated[list[str] | None, typer.Option(
            help="survey fields: directories, globs of directories ('fields/*') or .txt files listing them; "
                 "--fields A B C")]),
        inspect.Parameter("workers", kw, default=None, annotation=Annotated[int | None, typer.Option(
            help="with --fields: run on a local Dask cluster of N worker processes (default: one process, no Dask)")]),
        inspect.Parameter("scheduler", kw, default=None, annotation=Annotated[str | None, typer.Option(
            help="with --fields: run on the Dask scheduler at this address (tcp://HOST:8786)")]),
        inspect.Parameter("retries", kw, default=1, annotation=Annotated[int, typer.Option(
            help="with --fields: times a failed field is tried again before it is reported")]),
    ]


def _search_parameters(searches: dict[str, Any]) -> tuple[list[inspect.Parameter], dict[str, set[str]]]:
    """Every search's catalog options, each once; and which searches declare each."""
    from skysieve.errors import ConfigError

    params: dict[str, inspect.Parameter] = {}
    owners: dict[str, set[str]] = {}
    reserved = {p.name for p in _engine_parameters()} | {"ctx", "extra", "model"}
    for name, search in searches.items():
        for p in search.catalog_options():
            if p.name in reserved:
                raise ConfigError(f"search '{name}': catalog option '{p.name}' is the engine's; rename it")
            if p.name in params and params[p.name].annotation != p.annotation:
                owner = sorted(owners[p.name])[0]
                raise ConfigError(f"search '{name}': catalog option '{p.name}' differs from search '{owner}''s; "
                                  "share it with the same declaration or rename it")
            params.setdefault(p.name, p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            owners.setdefault(p.name, set()).add(name)
    return list(params.values()), owners


def _survey(ref: Any, fields: list[str], *, options: dict[str, Any], given: frozenset[str],
            cli: dict[str, Any]) -> None:
    """Run a survey (``--fields``) with the engine's options ``cli``; exit 1 if a field failed."""
    from skysieve.catalog import run_survey

    report = run_survey(ref, fields=fields, out=cli["out"], options=options, given=given,
                        batch_size=cli["batch_size"], workers=cli["workers"], scheduler=cli["scheduler"],
                        retries=cli["retries"], echo=typer.echo)
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the ``catalog`` command to ``app``, with the options of every registered search."""
    from skysieve.tasks import searches

    found = searches()
    extra_params, owners = _search_parameters(found)
    helps = [f"{name} ({search.title}): {text}" for name, search in found.items() if (text := search.catalog_help())]

    @handle_errors
    def catalog(ctx: typer.Context, **kwargs: Any) -> None:
        from skysieve._tracking import configure_mlflow
        from skysieve.catalog import check_output, resolve_model
        from skysieve.errors import ConfigError

        extra = list(ctx.args)
        unknown = [a for a in extra if a.startswith("-")]
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown}; see skysieve catalog --help")
        survey = kwargs["fields"] is not None
        if not survey and (kwargs["workers"] is not None or kwargs["scheduler"] is not None):
            raise ConfigError("--workers and --scheduler spread survey fields: give them with --fields")
        if survey and kwargs["truth"] is not None:
            raise ConfigError("--truth is for one catalog; a survey (--fields) takes none")
        configure_mlflow()
        ref = resolve_model(kwargs["model"])
        search = ref.search
        foreign = [f"--{n.replace('_', '-')}" for n, who in owners.items() if search.name not in who and _given(ctx, n)]
        if foreign:
            mine = [f"--{p.name.replace('_', '-')}" for p in search.catalog_options()]
            raise ConfigError(f"{', '.join(foreign)}: not an input of {ref.where}, a model of the '{search.name}' "
                              f"search ({search.title}); give {' / '.join(mine) or 'no inputs'} "
                              "(see skysieve catalog --help)")
        options = {p.name: kwargs[p.name] for p in search.catalog_options()}
        options["extra"] = [] if survey else extra
        given = frozenset(n for n in options if n != "extra" and _given(ctx, n))
        if survey:  # --fields A B C: click hands B and C over as extra arguments
            _survey(ref, [*kwargs["fields"], *extra], options=options, given=given, cli=kwargs)
            return
        check_output(kwargs["out"], [*options.values(), kwargs["truth"]])
        show = sys.stderr.isatty() if kwargs["progress"] is None else kwargs["progress"]
        if show:  # TensorFlow's import and the model's load take 10-20 s before the first bar moves
            typer.echo(f"loading {ref.where} (TensorFlow start-up: 10-20 s)…", err=True)
        search.make_catalog(ref, out=kwargs["out"], options=options, given=given, truth=kwargs["truth"],
                            batch_size=kwargs["batch_size"], progress=show, echo=typer.echo)

    ctx_param = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    engine = _engine_parameters()
    catalog.__signature__ = inspect.Signature([ctx_param, *engine[:2], *extra_params, *engine[2:]])
    catalog.__doc__ = "Make a candidate catalog with a registered model; the model decides the inputs."
    text = _unwrap(_HELP) + "".join(f"\n\n{h}" for h in helps)
    app.command("catalog", help=text, context_settings={"allow_extra_args": True})(catalog)
