"""Survey-scale catalogs: many fields, one task each, on the serial loop or a ``dask.distributed`` cluster.

``skysieve catalog --model … --fields fields/* --out survey.fits [--workers N
| --scheduler tcp://HOST:8786]``.  The model is resolved on this machine
before any worker starts; each field's options come from its directory
(:meth:`skysieve.tasks.Search.field_options`) and are checked here too.
Fields already done (:func:`~skysieve.catalog._fields.check_done`) are
skipped; the others are tasks.  Each worker loads the model once (a
:class:`ModelPlugin`, the worker's own cache) and writes each field's
directory atomically; a failed field is retried ``retries`` times, then
reported by name with its reason while the others finish.  The finished
fields are merged into one catalog (:func:`~skysieve.catalog._fields.merge_fields`).
"""

import glob
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from skysieve._io import atomic_path
from skysieve.catalog._fields import (
    CATALOG,
    Field,
    check_done,
    fields_dir,
    find_fields,
    input_hashes,
    merge_fields,
    settings_digest,
    write_manifest,
)
from skysieve.errors import ConfigError, SkysieveError

__all__ = ["ModelPlugin", "SurveyReport", "run_field", "run_survey"]


@dataclass
class SurveyReport:
    """What a survey run did, field by field.

    Attributes
    ----------
    done : list of str
        Fields made in this run.
    skipped : list of str
        Fields already done by an earlier run (outputs verified by hash).
    failed : dict of str to str
        Fields that failed (after their retries), with the reason.
    n_rows : int
        Rows of the survey catalog.
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    n_rows: int = 0


@dataclass(frozen=True)
class _Job:
    """One field's task: everything a worker needs, small and picklable."""

    field: Field
    options: dict[str, Any]
    given: frozenset[str]
    inputs: dict[str, str]
    settings: str
    out_dir: Path


def run_field(ref: Any, job: _Job, *, model: Any, batch_size: int) -> list[str]:
    """Make one field's catalog and manifest in its own directory, atomically; return its summary lines.

    On any error nothing of the field is left (its directory is written as a whole or not at all).
    """
    lines: list[str] = []
    with atomic_path(job.out_dir) as tmp:
        tmp.mkdir()
        ref.search.make_catalog(ref, out=tmp / CATALOG, options=job.options, given=job.given, truth=None,
                                batch_size=batch_size, progress=False, echo=lines.append, model=model)
        write_manifest(tmp, job.field, inputs=job.inputs, settings=job.settings, ref=ref)
    return [line.replace(str(tmp), str(job.out_dir)) for line in lines]


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, SkysieveError) else f"{type(exc).__name__}: {text}"


class ModelPlugin(WorkerPlugin):
    """A Dask worker plugin: the model, loaded once per worker on its first field.

    Registered with the scheduler, it is set up on every worker, those that
    join (or restart) later included.  It carries the MLflow tracking and
    registry URIs of the machine that resolved the model, so workers read
    the same registry (a tracking server or a shared file store, for workers
    on other hosts).
    """

    def __init__(self, ref: Any, *, tracking_uri: str, registry_uri: str) -> None:
        self.ref = ref
        self.tracking_uri, self.registry_uri = tracking_uri, registry_uri
        self.name = f"skysieve-model-{ref.name}-{ref.version}"
        self._model: Any = None
        self._loaded = False
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"ref": self.ref, "tracking_uri": self.tracking_uri, "registry_uri": self.registry_uri,
                "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["ref"], tracking_uri=state["tracking_uri"], registry_uri=state["registry_uri"])

    def setup(self, worker: Any = None) -> None:
        """Point the worker's MLflow at the registry the model was resolved in (nothing loaded yet)."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)

    def teardown(self, worker: Any = None) -> None:
        """Nothing to release: the model goes with the worker."""

    def model(self) -> Any:
        """The loaded model (:meth:`skysieve.tasks.Search.load_catalog_model`), loaded on the first call."""
        with self._lock:
            if not self._loaded:
                self._model = self.ref.search.load_catalog_model(self.ref)
                self._loaded = True
            return self._model


def _dask_field(job: _Job, *, plugin: str, batch_size: int) -> list[str]:
    """The task a worker runs for one field: the model from the worker's plugin, then :func:`run_field`."""
    from distributed import get_worker

    loader = get_worker().plugins[plugin]
    return run_field(loader.ref, job, model=loader.model(), batch_size=batch_size)


@contextmanager
def _client(*, workers: int | None, scheduler: str | None, echo: Callable[[str], None]) -> Iterator[Any]:
    import importlib.util

    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); start one "
                              "with `dask scheduler` and workers with `dask worker ADDRESS`") from exc
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        n = len(client.scheduler_info(n_workers=-1)["workers"])
        served = "" if importlib.util.find_spec("bokeh") else " (install bokeh to see its plots)"
        echo(f"dask: scheduler {client.scheduler.address}, {n} workers; dashboard {client.dashboard_link}{served}")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run_serial(ref: Any, jobs: Sequence[_Job], *, retries: int, batch_size: int,
                echo: Callable[[str], None]) -> tuple[list[str], dict[str, str]]:
    done, failed = [], {}
    model = ref.search.load_catalog_model(ref) if jobs else None
    for job in jobs:
        for attempt in range(retries + 1):
            try:
                for line in run_field(ref, job, model=model, batch_size=batch_size):
                    echo(f"field {job.field.name}: {line}")
            except Exception as exc:  # noqa: BLE001 - any failure of a field is reported; the others go on
                if attempt == retries:
                    failed[job.field.name] = _describe(exc)
                continue
            done.append(job.field.name)
            break
    return done, failed


def _run_dask(ref: Any, jobs: Sequence[_Job], *, client: Any, retries: int, batch_size: int,
              echo: Callable[[str], None]) -> tuple[list[str], dict[str, str]]:
    import mlflow
    from distributed import as_completed

    plugin = ModelPlugin(ref, tracking_uri=mlflow.get_tracking_uri(), registry_uri=mlflow.get_registry_uri())
    client.register_plugin(plugin, name=plugin.name)
    run = uuid.uuid4().hex[:8]  # keys unique to this run: a shared scheduler may hold an earlier run's
    futures = {client.submit(_dask_field, job, plugin=plugin.name, batch_size=batch_size, retries=retries,
                             pure=False, key=f"skysieve-field-{job.field.name}-{run}"): job for job in jobs}
    done, failed = [], {}
    for future in as_completed(futures):
        name = futures[future].field.name
        try:
            lines = future.result()
        except Exception as exc:  # noqa: BLE001 - any failure of a field is reported; the others go on
            failed[name] = _describe(exc)
            continue
        done.append(name)
        for line in lines:
            echo(f"field {name}: {line}")
    return done, failed


def _sweep(root: Path, name: str) -> None:
    """Remove what a worker killed while writing field ``name`` left (its hidden ``.partial`` directory)."""
    for partial in root.glob(f".{glob.escape(name)}.*.partial"):
        shutil.rmtree(partial, ignore_errors=True)


def _plan(ref: Any, fields: Sequence[Field], *, out: Path, options: Mapping[str, Any], given: frozenset[str],
          echo: Callable[[str], None]) -> tuple[list[_Job], list[str], dict[str, str]]:
    """Every field's job, or why it is skipped (done) or failed already (bad directory)."""
    search, root = ref.search, fields_dir(out)
    settings = settings_digest(ref, options)
    jobs, skipped, failed = [], [], {}
    for f in fields:
        try:
            own = search.field_options(f.directory)
        except SkysieveError as exc:
            failed[f.name] = _describe(exc)
            shutil.rmtree(root / f.name, ignore_errors=True)
            continue
        typed = sorted(set(own) & given)
        if typed:
            flags = ", ".join(f"--{n.replace('_', '-')}" for n in typed)
            raise ConfigError(f"{flags}: each field gives its own with --fields; drop {flags}")
        inputs = input_hashes(f.directory)
        why = check_done(root / f.name, inputs=inputs, settings=settings)
        if why is None:
            skipped.append(f.name)
            continue
        if (root / f.name).exists():
            echo(f"field {f.name}: redone, {why}")
            shutil.rmtree(root / f.name)  # no stale output that looks valid if it fails this time
        _sweep(root, f.name)
        jobs.append(_Job(f, {**options, **own}, given | frozenset(own), inputs, settings, root / f.name))
    return jobs, skipped, failed


def run_survey(ref: Any, *, fields: Sequence[str | Path], out: Path, options: Mapping[str, Any],
               given: frozenset[str], batch_size: int, workers: int | None = None, scheduler: str | None = None,
               retries: int = 1, echo: Callable[[str], None] = print) -> SurveyReport:
    """Make the catalog of every field and merge them into the survey catalog ``out``.

    Parameters
    ----------
    ref : ModelRef
        The resolved model (resolve it before calling: a bad URI stops before any worker starts).
    fields : sequence of str or Path
        Field directories, globs of directories, or ``.txt`` files listing them.
    out : Path
        The survey catalog (FITS), written atomically; the fields' outputs go to
        :func:`~skysieve.catalog._fields.fields_dir` beside it.
    options, given
        The search's catalog options and those typed on the command line; each
        field lays its own (:meth:`~skysieve.tasks.Search.field_options`) over them.
    batch_size : int
        Cutouts or tiles per forward pass.
    workers : int, optional
        Run on a ``LocalCluster`` of this many worker processes (one thread each).
    scheduler : str, optional
        Run on the Dask scheduler at this address (``tcp://host:8786``).
        With neither, fields run one after the other in this process.
    retries : int
        Times a failed field is tried again.
    echo : callable
        Prints one line.

    Returns
    -------
    SurveyReport
        The survey catalog is written when at least one field is done.

    Raises
    ------
    ConfigError
        Bad options (both ``workers`` and ``scheduler``, ``workers`` < 1, a
        search that takes no fields, an unreachable scheduler).
    """
    if workers is not None and scheduler is not None:
        raise ConfigError("give --workers N (a cluster on this machine) or --scheduler ADDRESS, not both")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {workers})")
    if retries < 0:
        raise ConfigError(f"--retries must be >= 0 (got {retries})")
    out = Path(out).absolute()  # workers elsewhere write there: no path relative to this process's directory
    found = find_fields(fields)
    jobs, skipped, failed = _plan(ref, found, out=out, options=options, given=given, echo=echo)
    if skipped:
        echo(f"{len(skipped)} field(s) already done, outputs verified by sha256: {', '.join(skipped)}")
    done: list[str] = []
    if jobs and (workers is not None or scheduler is not None):
        with _client(workers=workers, scheduler=scheduler, echo=echo) as client:
            done, more = _run_dask(ref, jobs, client=client, retries=retries, batch_size=batch_size, echo=echo)
        failed.update(more)
    elif jobs:
        done, more = _run_serial(ref, jobs, retries=retries, batch_size=batch_size, echo=echo)
        failed.update(more)
    for job in jobs:
        _sweep(fields_dir(out), job.field.name)
    report = SurveyReport(done=done, skipped=skipped, failed=failed)
    finished = [(f, fields_dir(out) / f.name) for f in found if f.name in {*done, *skipped}]
    if finished:
        report.n_rows = _write_survey(ref, finished, out=out, failed=sorted(failed))
        echo(f"wrote {out}: {report.n_rows} rows from {len(finished)} field(s) ({len(done)} made now, "
             f"{len(skipped)} already done) [{ref.name} v{ref.version}]")
    for name in sorted(failed):
        echo(f"FAILED field {name}: {failed[name]}")
    if failed:
        echo(f"{len(failed)} of {len(found)} field(s) failed; fix them and run the same command again "
             "(the done fields are skipped)")
    return report


def _write_survey(ref: Any, finished: Sequence[tuple[Field, Path]], *, out: Path, failed: Sequence[str]) -> int:
    from astropy.io import fits

    table, inputs = merge_fields(finished, duplicates=ref.search.survey_duplicates, failed=failed)
    with atomic_path(out) as tmp:
        fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table), fits.table_to_hdu(inputs)]).writeto(tmp)
    return len(table)
