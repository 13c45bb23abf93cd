"""Survey fields on disk: finding them, their outputs and manifests, resuming, and the survey catalog.

A *field* is a directory of one search's catalog inputs (one map set, one
cutout directory).  ``--out survey.fits`` keeps one directory per field in
``survey.fields/<field>/`` beside it, written atomically as a whole: the
field's ``catalog.fits`` and ``manifest.json`` (the sha256 of every input
file, of the catalog, and of the model version and options that made it).  A
field whose manifest agrees with its inputs, its catalog and the run's
settings is done and is skipped on the next run; any other is (re)done.
"""

import glob
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from skysieve.catalog._merge import drop_duplicates
from skysieve.catalog._write import code_version, file_sha256
from skysieve.errors import ConfigError

__all__ = ["Field", "check_done", "fields_dir", "find_fields", "input_hashes", "merge_fields", "settings_digest",
           "write_manifest"]

MANIFEST = "manifest.json"
CATALOG = "catalog.fits"


@dataclass(frozen=True)
class Field:
    """One survey field: its name (the directory's, unique in the survey) and its directory."""

    name: str
    directory: Path


def _expand(spec: str, *, base: Path, source: str) -> list[Path]:
    text = spec.strip()
    path = Path(text) if Path(text).is_absolute() else base / text
    if glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_dir())
        if not found:
            raise ConfigError(f"{source}: {text!r} matches no directory")
        return found
    if path.is_file() and path.suffix.lower() in {".txt", ".lst", ".list"}:
        return _listed(path)
    return [path]  # a missing directory is a failed field, reported with the others


def _listed(listing: Path) -> list[Path]:
    """The fields a text file lists, one directory or glob per line (``#`` comments), relative to the file."""
    out: list[Path] = []
    for line in listing.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.extend(_expand(line, base=listing.parent, source=str(listing)))
    return out


def find_fields(specs: Iterable[str | Path]) -> list[Field]:
    """The fields named by ``--fields``: directories, globs of directories, or text files listing either.

    Raises
    ------
    ConfigError
        A glob that matches nothing, no field at all, or two fields with one name.
    """
    dirs: list[Path] = []
    for spec in specs:
        dirs.extend(_expand(str(spec), base=Path.cwd(), source="--fields"))
    if not dirs:
        raise ConfigError("--fields names no field; give field directories, a glob ('fields/*') or a .txt list")
    fields, seen = [], {}
    for d in dirs:
        name = d.resolve().name
        if name in seen and seen[name] != d.resolve():
            raise ConfigError(f"--fields: two fields are named {name!r} ({seen[name]} and {d}); field names (the "
                              "directories' names) must be unique in a survey")
        if name not in seen:
            seen[name] = d.resolve()
            fields.append(Field(name, d.absolute()))  # workers on other hosts see the same absolute paths
    return fields


def fields_dir(out: Path) -> Path:
    """Where the fields' outputs of survey catalog ``out`` live: ``<out's stem>.fields/`` beside it."""
    out = Path(out)
    return out.parent / f"{out.name.split('.')[0]}.fields"


def input_hashes(directory: Path) -> dict[str, str]:
    """sha256 of every file under a field's directory (hidden files aside), by relative path."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    files = sorted(p for p in directory.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts))
    return {p.relative_to(directory).as_posix(): file_sha256(p) for p in files}


def inputs_digest(inputs: Mapping[str, str]) -> str:
    """One sha256 over a field's input files and their hashes."""
    return hashlib.sha256(json.dumps(sorted(inputs.items())).encode()).hexdigest()


def settings_digest(ref: Any, options: Mapping[str, Any]) -> str:
    """sha256 of what makes a field's catalog besides its inputs: the model version and the search's options
    (not the batch size, which does not change the rows)."""
    text = json.dumps({"model": ref.name, "version": ref.version,
                       "options": {k: options[k] for k in sorted(options)}}, default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def write_manifest(directory: Path, field: Field, *, inputs: Mapping[str, str], settings: str, ref: Any) -> None:
    """The field's manifest, beside its just-written catalog (inside the field's atomic directory)."""
    manifest = {"field": field.name, "directory": str(field.directory), "inputs": dict(inputs),
                "settings": settings, "model": ref.uri, "model_version": ref.version, "catalog": CATALOG,
                "catalog_sha256": file_sha256(directory / CATALOG),
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1))


def check_done(directory: Path, *, inputs: Mapping[str, str], settings: str) -> str | None:
    """``None`` when the field's outputs in ``directory`` are complete and current, else why it must be redone."""
    path = directory / MANIFEST
    if not path.is_file():
        return "not done yet"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"{path} is unreadable"
    if manifest.get("inputs") != dict(inputs):
        return "its inputs changed"
    if manifest.get("settings") != settings:
        return "the model version or the options changed"
    catalog = directory / CATALOG
    if not catalog.is_file():
        return f"{catalog} is missing"
    if file_sha256(catalog) != manifest.get("catalog_sha256"):
        return f"{catalog} differs from its manifest (sha256)"
    return None


def merge_fields(done: Sequence[tuple[Field, Path]], *, duplicates: Any, failed: Sequence[str]) -> Any:
    """Stack the fields' catalogs into one survey catalog, one row per object across field overlaps.

    Parameters
    ----------
    done : sequence of (Field, Path)
        Each finished field and its output directory.
    duplicates : callable
        ``duplicates(table) -> (score, radius_arcmin)``: the search's
        :meth:`~skysieve.tasks.Search.survey_duplicates`.
    failed : sequence of str
        Names of the fields that failed (recorded in the header).

    Returns
    -------
    (Table, Table)
        The candidates, with columns ``field`` and ``field_sha256`` (of the
        field's inputs, listed in the second table) and a header of what
        all fields share (model, thresholds…) plus the survey's own keys; and
        the ``FIELDS`` table: one row per input file (field, file, sha256,
        the field's catalog sha256).
    """
    from astropy.table import Table, vstack

    tables, groups, scores, radius = [], [], [], 0.0
    rows: list[tuple[str, str, str, str]] = []
    for k, (field, directory) in enumerate(done):
        manifest = json.loads((directory / MANIFEST).read_text())
        table = Table.read(directory / CATALOG)
        score, r = duplicates(table)
        radius = max(radius, float(r))
        table["field"] = np.full(len(table), field.name, dtype=f"U{max(len(field.name), 1)}")
        table["field_sha256"] = np.full(len(table), inputs_digest(manifest["inputs"]), dtype="U64")
        tables.append(table)
        groups.append(np.full(len(table), k))
        scores.append(np.asarray(score, float))
        rows.extend((field.name, name, sha, manifest["catalog_sha256"]) for name, sha in manifest["inputs"].items())
    if not tables:
        return Table(), Table(names=("field", "file", "sha256", "catalog_sha256"), dtype=("U1",) * 4)
    shared = {key: value for key, value in tables[0].meta.items()
              if all(t.meta.get(key) == value for t in tables[1:]) and key not in {"NCAND", "DATE"}}
    survey = vstack(tables, join_type="exact", metadata_conflicts="silent")
    keep = drop_duplicates(np.asarray(survey["ra"], float), np.asarray(survey["dec"], float),
                           score=np.concatenate(scores), group=np.concatenate(groups), radius_arcmin=radius)
    survey = survey[keep]
    code = code_version()
    survey.meta.clear()
    survey.meta.update(shared)
    survey.meta.update({"ORIGIN": "skysieve catalog (survey)",
                        "DATE": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "NFIELDS": len(done),
                        "NFAILED": len(failed), "DUPRAD": radius, "NDUPL": int((~keep).sum()), "NCAND": len(survey),
                        "SKYSVER": code["skysieve"], "GITCOMM": code["git_commit"], "GITDIRTY": code["git_dirty"]})
    fields = Table(rows=rows, names=("field", "file", "sha256", "catalog_sha256"))
    fields.meta["EXTNAME"] = "FIELDS"
    return survey, fields
