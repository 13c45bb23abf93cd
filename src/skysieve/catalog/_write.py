"""The engine's catalog edge: the result type every search's catalog returns, its writer and provenance.

``write_catalog`` writes atomically (no partial file on any error);
``code_version`` and ``file_sha256`` are what a catalog header records so a
row can be traced to the code and the inputs behind it.
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astropy.table import Table

from skysieve._io import atomic_path

__all__ = ["CatalogResult", "code_version", "file_sha256", "progress_bars", "write_catalog"]


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_version() -> dict[str, str]:
    """The running code: ``skysieve`` (package version), ``git_commit`` and ``git_dirty`` of its checkout.

    The commit is that of the source tree skysieve is imported from (an
    editable install); ``unknown`` for an installed wheel.
    """
    from importlib.metadata import PackageNotFoundError, version

    import skysieve
    from skysieve._tracking import provenance

    try:
        ver = version("skysieve")
    except PackageNotFoundError:
        ver = "unknown"
    root = Path(skysieve.__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        return {"skysieve": ver, "git_commit": "unknown", "git_dirty": "unknown"}
    prov = provenance([], root=root)
    return {"skysieve": ver, "git_commit": prov["git.commit"], "git_dirty": prov["git.dirty"]}


def check_output(out: str | Path, inputs: Any) -> None:
    """Refuse, before any work, an ``--out`` that cannot be written or that would overwrite or join an input.

    ``inputs`` holds the command's input paths (paths, or lists of them; other
    values are ignored).  An output equal to an input file would replace it;
    one inside an input directory would be read back as an input next time.

    Raises
    ------
    ConfigError
        ``out`` is a directory, lies under a file, is one of the inputs, or
        lies inside an input directory.
    """
    from skysieve.errors import ConfigError

    target = Path(out).expanduser().resolve()
    if target.is_dir():
        raise ConfigError(f"--out {out}: is a directory; give the catalog's file name (e.g. {Path(out) / 'catalog.fits'})")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {out}: {parent} is a file, not a directory; choose another path")
            break
    flat: list[Path] = []
    for value in inputs:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (str, Path)) and str(item):
                flat.append(Path(item).expanduser().resolve())
    for path in flat:
        if target == path:
            raise ConfigError(f"--out {out}: is an input of this command; writing the catalog would replace it — "
                              "choose another file name")
        if path.is_dir() and path in target.parents:
            raise ConfigError(f"--out {out}: lies inside the input directory {path}, where a later run would read it "
                              "as an input; write the catalog elsewhere")


def model_header(ref: Any, *, task: str) -> dict[str, Any]:
    """The provenance keywords every search's catalog header starts with: what ran, on which model, from what.

    ``ORIGIN``, ``DATE`` (UTC), ``TASK``; the registered version (``MODEL``,
    ``MODELVER``, ``MODALIAS``, ``MODELURI``, ``RUNID``) and what it was
    trained from (``MODGIT``: its git commit, ``DATAHASH``: its data hash,
    from the version's tags); the running code (``SKYSVER``, ``GITCOMM``,
    ``GITDIRTY``, :func:`code_version`).  ``ref`` is a
    :class:`skysieve.catalog.ModelRef`.
    """
    from datetime import UTC, datetime

    code = code_version()
    tags = getattr(ref, "tags", {}) or {}
    return {
        "ORIGIN": "skysieve catalog", "DATE": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "TASK": task,
        "MODEL": ref.name, "MODELVER": ref.version, "MODALIAS": ref.alias or "", "MODELURI": ref.uri,
        "RUNID": ref.run_id, "MODGIT": tags.get("git_commit", "unknown"), "DATAHASH": tags.get("data_hash", "unknown"),
        "SKYSVER": code["skysieve"], "GITCOMM": code["git_commit"], "GITDIRTY": code["git_dirty"],
    }


@dataclass
class CatalogResult:
    """What a search's catalog function returns (:meth:`skysieve.tasks.Search.make_catalog`).

    Attributes
    ----------
    table : Table
        One row per candidate (columns in ``docs/catalog.md``); ``meta`` holds
        the FITS header keywords (model, thresholds, map checksums, code version).
    truth : dict of str to ConfusionCounts, or None
        With a truth catalog: counts per method (:class:`skysieve.evaluate.ConfusionCounts`,
        with ``.purity``, ``.completeness``, ``.f1``).
    summary : dict
        Counts and timings; the keys are the search's (``docs/catalog.md``).
    """

    table: Table
    truth: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, dict[str, float]]:
        """Purity, completeness, F1 and counts per method (empty without truth)."""
        return {m: c.as_dict() for m, c in (self.truth or {}).items()}


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Callable[..., Any]]:
    """Yield ``add(description, total) -> advance(n)``; a rich progress bar on stderr when enabled."""
    if not enabled:
        yield lambda description, total: (lambda n: None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        def add(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield add


def write_catalog(result: CatalogResult | Table, path: str | Path) -> Path:
    """Write the catalog as a FITS binary table, atomically (no partial file on any error).

    The table's ``meta`` becomes the header (model, thresholds, map checksums,
    code version).  Returns the path.
    """
    table = result.table if isinstance(result, CatalogResult) else result
    with atomic_path(path) as tmp:
        table.write(tmp, format="fits")
    return Path(path)
