"""The search contract: what one search (``tasks/<name>/``) gives the engine, method by method.

A search is an object whose class derives from :class:`Search`; it is found
through the ``skysieve.tasks`` entry-point group (or ``$SKYSIEVE_TASKS``, see
:mod:`skysieve.tasks._registry`).  The engine — config, cli, registry,
catalog — calls only what is declared here and never imports a search by
name; a search imports the engine.  Class attributes and the methods without
a default body are required; the others have defaults that suit a search
with nothing of that kind.

Keep every method cheap and free of heavy imports (TensorFlow, MLflow,
lenstronomy…): ``skysieve --help`` and ``skysieve tasks`` call them.  Heavy
work happens inside the commands a search returns from :meth:`Search.commands`
and in :meth:`Search.make_catalog`.
"""

import importlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel

__all__ = ["TASK_TAG", "Command", "Search", "SectionSpec", "Stage"]

#: Model-version tag naming the search a registered version serves (set by :mod:`skysieve.registry`).
TASK_TAG = "skysieve.task"


@dataclass(frozen=True)
class SectionSpec:
    """One ``params.yaml`` section a search owns.

    Attributes
    ----------
    name : str
        The section's key in ``params.yaml`` (``simulate_lens``).
    model : type of pydantic.BaseModel
        A frozen section model with ``extra="forbid"`` (:class:`skysieve.config.Section`).
    default : callable, optional
        Returns the default section; ``model()`` when omitted.
    merge_defaults : bool
        A partial section in ``params.yaml`` is laid over ``default()``
        (:func:`skysieve.config.over_defaults`) rather than over the model's
        own field defaults — for engine models (``TrainParams``) whose
        defaults this search overrides.
    """

    name: str
    model: type[BaseModel]
    default: Callable[[], BaseModel] | None = None
    merge_defaults: bool = False

    def default_value(self) -> BaseModel:
        """The default section."""
        return self.default() if self.default is not None else self.model()


@dataclass(frozen=True)
class Stage:
    """One DVC stage (and MLproject entry point of the same name) of a search.

    Attributes
    ----------
    name : str
        The stage name in ``dvc.yaml`` and the entry point in ``MLproject``
        (``train_lens``).
    verb : str
        The command group: the stage runs ``skysieve <verb> <command> …``.
    command : str
        The command within the group; the search's name unless the search adds
        a second command to a group (``skysieve simulate cmb-spectrum``).
    params : tuple of str
        The params sections or dotted keys the command reads — exactly these
        must be the stage's ``params:`` in ``dvc.yaml``.
    code : tuple of str
        Code under ``src/skysieve`` the stage runs that its imports do not
        show (a module loaded by name): ``skysieve pipeline check`` already
        follows the command's imports (:func:`skysieve.tasks._check.stage_code`)
        and requires the search's folder; what is listed here must be in the
        stage's ``deps`` too.
    """

    name: str
    verb: str
    command: str
    params: tuple[str, ...]
    code: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    """A command a search adds to the command line: ``skysieve <verb> <name>``.

    Attributes
    ----------
    verb : str
        The group (``simulate``, ``mf``…); a group no search used before is created.
    name : str
        The command within the group (usually the search's name).
    func : callable
        A Typer command function (its signature declares the options); it is
        wrapped so a :class:`skysieve.errors.SkysieveError` becomes a one-line
        message and exit status 2.
    help : str
        One line for the group's help, used when the search creates the group.
    """

    verb: str
    name: str
    func: Callable[..., Any]
    help: str = ""


class Search(ABC):
    """One search of skysieve: its data, models, tables and catalog inputs.

    Subclass it in ``tasks/<name>/__init__.py`` (or in a separate package),
    set the class attributes, implement the abstract methods and register an
    instance in the ``skysieve.tasks`` entry-point group of your
    ``pyproject.toml``::

        [project.entry-points."skysieve.tasks"]
        blobs = "my_package.blobs:search"

    Attributes
    ----------
    name : str
        Short lowercase name (``sz``, ``lens``): the second word of its
        commands, the suffix of its params sections and DVC stages
        (``train_<name>``), its MLflow experiment and its ``skysieve.task`` tag.
    title : str
        One line for ``skysieve tasks`` and ``--help``.
    paper : str
        The paper it follows (a file in ``../shared/papers`` or a citation).
    doc : str
        Its documentation page, relative to the repository root (``docs/lens.md``).
    commands_module : str, optional
        A module with a function ``commands() -> tuple[Command, ...]``: the
        default :meth:`commands` imports it only when the command line is
        built, so the search's package stays cheap to import.
    catalog_module : str, optional
        A module with ``catalog_options()``, ``CATALOG_HELP`` and
        ``make_catalog(ref, **kwargs)``: the defaults of :meth:`catalog_options`,
        :meth:`catalog_help` and :meth:`make_catalog` delegate to it; and, for
        survey fields, optionally ``field_options``, ``load_catalog_model`` and
        ``survey_duplicates`` (:meth:`field_options`).
    validation_metrics : mapping of str to str, optional
        Validation metrics the search offers the training engine, by name, each
        a module-level function given as ``"module:function"`` (see
        :meth:`validation_metric`); a ``train_<name>`` section selects one with
        ``monitor: <search>.<metric>``.  Empty by default.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    paper: ClassVar[str] = ""
    doc: ClassVar[str] = ""
    commands_module: ClassVar[str | None] = None
    catalog_module: ClassVar[str | None] = None
    validation_metrics: ClassVar[Mapping[str, str]] = MappingProxyType({})

    # -- configuration -----------------------------------------------------------------------------------------------

    @abstractmethod
    def sections(self) -> tuple[SectionSpec, ...]:
        """The ``params.yaml`` sections this search owns (``simulate_<name>``, ``train_<name>``…).

        The engine composes them with its own (``cosmology``) into the root
        params model read by :func:`skysieve.config.load_params`; two
        searches may not own the same section.
        """

    # -- pipeline ----------------------------------------------------------------------------------------------------

    @abstractmethod
    def stages(self) -> tuple[Stage, ...]:
        """The DVC stages of this search, in the order data flows.

        ``skysieve pipeline check`` verifies each against ``dvc.yaml`` and
        ``MLproject``; ``skysieve tasks`` lists them.  Stages whose verb is
        ``tune`` or ``train`` run the engine's generic commands (sections
        ``tune_<name>``, ``train_<name>``); the others run :meth:`commands`.
        """

    def commands(self) -> tuple[Command, ...]:
        """The search's own commands (``simulate``, ``cutouts``, ``validate``, ``evaluate``, ``register``…).

        Each is a thin edge: parse paths, load its params section, call one
        library function, write outputs atomically.  By default, those of
        :attr:`commands_module`.
        """
        if self.commands_module is None:
            return ()
        return tuple(importlib.import_module(self.commands_module).commands())

    def model_names(self, params: Any) -> tuple[str, ...]:
        """The registered model names this search's ``register`` stage writes, read from ``params``."""
        return ()

    # -- training ------------------------------------------------------------------------------------------------------

    def validation_metric(self, name: str) -> Callable[[Any, Any, Any], float]:
        """The validation metric ``name`` of :attr:`validation_metrics`, imported.

        The training engine calls it once per epoch as ``fn(outputs, dataset,
        rows) -> float`` (higher is better) when ``train_<task>.monitor`` is
        ``<search>.<name>``, and follows it instead of the validation log-loss
        for early stopping, the learning-rate plateau and the weights kept:

        * ``outputs`` — ndarray of shape (len(rows), …): the model's raw
          outputs on the validation rows, in row order (probabilities (n, 1),
          or maps (n, ty, tx, tc) for dense targets);
        * ``dataset`` — the :class:`~skysieve.data.CutoutDataset` trained on;
        * ``rows`` — ndarray of int, the dataset rows ``outputs`` belong to.

        It must be a module-level function (named, never a closure): the
        engine finds it again by the search's name and the metric's name, in
        whatever process trains a fold.

        Raises
        ------
        skysieve.errors.ConfigError
            The search offers no metric of that name, or it cannot be imported.
        """
        from skysieve.errors import ConfigError

        spec = self.validation_metrics.get(name)
        if spec is None:
            offered = ", ".join(f"{self.name}.{n}" for n in self.validation_metrics) or "none"
            raise ConfigError(f"the '{self.name}' search offers no validation metric '{name}' (offered: {offered}); "
                              "set train_<task>.monitor to one of those, or to val_loss")
        module, _, attr = spec.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"the '{self.name}' search's validation metric '{name}' = {spec!r} cannot be loaded "
                              f"({exc}); it must name a module-level function as module:function") from exc

    # -- registry and catalog ----------------------------------------------------------------------------------------

    def recognizes(self, tags: Mapping[str, str]) -> bool:
        """Whether a registered version *without* a ``skysieve.task`` tag is one of this search's.

        Only for versions registered before the tag was set by the registry;
        answer from a tag only this search writes (its catalog config).
        """
        return False

    def catalog_options(self) -> tuple[inspect.Parameter, ...]:
        """Extra keyword options of ``skysieve catalog`` this search's models read.

        Each is an :class:`inspect.Parameter` (``KEYWORD_ONLY``) with a Typer
        ``Annotated`` type and a default; the options ``--model``, ``--out``,
        ``--truth``, ``--batch-size`` and ``--progress`` are the engine's.
        An option is shared by searches that declare it with the same name;
        an option given for another search's model is refused.  By default,
        those of :attr:`catalog_module`.
        """
        if self.catalog_module is None:
            return ()
        return tuple(importlib.import_module(self.catalog_module).catalog_options())

    def catalog_help(self) -> str:
        """A paragraph for ``skysieve catalog --help``: which inputs this search's models take."""
        if self.catalog_module is None:
            return ""
        return str(importlib.import_module(self.catalog_module).CATALOG_HELP)

    def field_options(self, directory: Path) -> dict[str, Any]:
        """The catalog options that make one survey field (``skysieve catalog --fields DIR…``) of ``directory``.

        A *field* is a directory holding one set of this search's catalog
        inputs (one FITS map per band, a directory of cutouts…).  The engine
        calls this for every field, lays the result over the options typed on
        the command line and hands them to :meth:`make_catalog` (with the model
        loaded once by :meth:`load_catalog_model`); it hashes every file of the
        directory for the field's provenance.  Cheap: list files, no FITS read.
        By default, ``field_options(directory)`` of :attr:`catalog_module`, if it
        has one.

        Raises
        ------
        skysieve.errors.SkysieveError
            The search takes no fields (the default), or the directory holds
            no usable inputs (the field is reported as failed, the others run).
        """
        hook = self._catalog_hook("field_options")
        if hook is None:
            from skysieve.errors import ConfigError

            raise ConfigError(f"the '{self.name}' search takes no --fields (survey fields); give its inputs for one "
                              "catalog instead (see skysieve catalog --help)")
        return dict(hook(directory))

    def load_catalog_model(self, ref: Any) -> Any:
        """Load the registered version ``ref`` once, for :meth:`make_catalog` over many fields.

        Each Dask worker calls it once; what it returns is passed as
        ``model=`` to :meth:`make_catalog`.  By default,
        ``load_catalog_model(ref)`` of :attr:`catalog_module`, or ``None`` (the
        search loads the model on every call).
        """
        hook = self._catalog_hook("load_catalog_model")
        return None if hook is None else hook(ref)

    def survey_duplicates(self, table: Any) -> tuple[Any, float]:
        """How rows of overlapping fields that are one object are told apart: ``(score, radius_arcmin)``.

        ``score`` is an array with one value per row of ``table`` (a field's
        catalog), higher better; rows of *different* fields closer than
        ``radius_arcmin`` are one object, and the survey catalog keeps the
        highest-scoring one.  By default, ``survey_duplicates(table)`` of
        :attr:`catalog_module`.
        """
        hook = self._catalog_hook("survey_duplicates")
        if hook is None:
            from skysieve.errors import ConfigError

            raise ConfigError(f"the '{self.name}' search does not say how its catalogs of overlapping fields are "
                              "merged (Search.survey_duplicates)")
        return hook(table)

    def _catalog_hook(self, name: str) -> Callable[..., Any] | None:
        if self.catalog_module is None:
            return None
        return getattr(importlib.import_module(self.catalog_module), name, None)

    # -- candidate galleries -----------------------------------------------------------------------------------------

    def gallery_score(self, table: Any) -> str | None:
        """The column of this search's catalog ``table`` a gallery sorts by (higher better) and ``--max`` keeps.

        By default ``score`` where the catalog has one, else ``None`` (catalog order).
        """
        return "score" if "score" in getattr(table, "colnames", ()) else None

    def gallery_thumbnails(self, rows: Any, images: tuple[Path, ...], *, size_px: int | None) -> Iterator[Any]:
        """One thumbnail per row of a catalog of this search, for ``skysieve gallery``.

        Parameters
        ----------
        rows : astropy.table.Table
            The rows shown, in page order (``ra``, ``dec`` in deg and the
            search's columns); ``rows.meta`` is the catalog header.
        images : tuple of Path
            What ``--images`` gave: FITS images, or whatever inputs the
            search's catalog took (a directory of cutouts…).
        size_px : int or None
            ``--size``: the cutout side in image pixels, or ``None`` for the
            search's own choice.

        Yields
        ------
        ndarray of shape (H, W, 3), uint8, or None
            Exactly one per row, in order; ``None`` for a row outside every
            image (the engine draws, counts and reports a placeholder).

        Raises
        ------
        skysieve.errors.SkysieveError
            Unusable images, named with the fix (nothing is written).

        By default, the engine's :func:`skysieve.gallery.catalog_thumbnails`:
        a catalog made from a directory of cutout files (``INPUT = 'cutouts'``,
        ``CUTDIR``, a ``file`` column) is drawn from those files; otherwise
        every image is cut at each row's ``ra``, ``dec`` through its WCS
        (:func:`skysieve.gallery.default_thumbnails`) — a Lupton colour
        composite for three or more optical bands (``FILTER``), one labelled
        panel per band otherwise.
        """
        # loaded by name: no pipeline stage runs the gallery, so its code is no stage's dependency (skysieve pipeline
        # check follows every import of the contract into every stage's deps)
        catalog_thumbnails = importlib.import_module("skysieve.gallery").catalog_thumbnails
        return catalog_thumbnails(rows, images, size_px=size_px, who=f"the '{self.name}' search")

    def make_catalog(self, ref: Any, *, out: Path, options: Mapping[str, Any], given: frozenset[str],
                     truth: Path | None, batch_size: int, progress: bool, echo: Callable[[str], None],
                     model: Any = None) -> None:
        """Run the registered version ``ref`` over new inputs and write the candidate catalog to ``out``.

        Parameters
        ----------
        ref : skysieve.catalog.ModelRef
            The resolved version (name, version, alias, run id, tags).
        out : Path
            The FITS table to write atomically (nothing when inputs are bad).
        options : mapping
            Every option of :meth:`catalog_options`, by parameter name, plus
            ``extra``: the list of extra words on the command line.
        given : frozenset of str
            The options typed on the command line (not left at their defaults).
        truth, batch_size, progress
            The engine's options.
        echo : callable
            Prints one line of the summary.
        model : any, optional
            Only in survey runs (``--fields``): what :meth:`load_catalog_model`
            returned, to use instead of loading ``ref`` again.

        Raises
        ------
        skysieve.errors.SkysieveError
            Bad inputs, named with the fix, before anything is written.
        """
        if self.catalog_module is not None:
            importlib.import_module(self.catalog_module).make_catalog(
                ref, out=out, options=options, given=given, truth=truth, batch_size=batch_size, progress=progress,
                echo=echo, **({} if model is None else {"model": model}))
            return
        from skysieve.errors import ConfigError

        raise ConfigError(f"{ref.where} belongs to the '{self.name}' search, which makes no catalog")
