"""``skysieve pipeline check``: every registered search's stages against ``dvc.yaml`` and ``MLproject``.

``dvc.yaml``, ``MLproject`` and ``params.yaml`` stay plain files people read
and edit; this check keeps them honest against what each search declares
(:meth:`skysieve.tasks.Search.stages`):

* every stage is in ``dvc.yaml`` and runs ``skysieve <verb> <command>``;
* its ``params:`` are exactly the sections and dotted keys the command reads
  (a missing one would let a change go unnoticed; an extra one reruns the
  stage for nothing);
* its ``deps`` cover the code it runs: the search's folder, ``cli``,
  ``config`` and the engine folders the stage declares, so a code change
  cannot leave a stale output that ``dvc repro`` calls up to date;
* ``MLproject`` has an entry point of the same name running the same command.
"""

from pathlib import Path
from typing import Any

import yaml

from skysieve.errors import ConfigError
from skysieve.tasks._contract import Search, Stage
from skysieve.tasks._registry import searches

__all__ = ["PACKAGE_DIR", "check_pipeline", "stage_code"]

#: Where the package's source lives, relative to the repository root (as ``dvc.yaml`` names it).
PACKAGE_DIR = "src/skysieve"

#: Engine folders every stage runs: its command line and its params.
_ALWAYS = ("cli", "config")


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run skysieve pipeline check from the repository root (or give --root)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _params_of(stage: dict[str, Any]) -> set[str]:
    """The params keys of a ``dvc.yaml`` stage (plain keys, or ``{file: [keys]}`` entries for params.yaml)."""
    keys: set[str] = set()
    for entry in stage.get("params") or []:
        if isinstance(entry, str):
            keys.add(entry)
        elif isinstance(entry, dict):
            for file, items in entry.items():
                if Path(str(file)).name == "params.yaml":
                    keys.update(str(k) for k in (items or []))
    return keys


def _deps_of(stage: dict[str, Any]) -> list[str]:
    return [str(d).rstrip("/") for d in stage.get("deps") or []]


def stage_code(search: Search, stage: Stage) -> list[str]:
    """The source paths (relative to the repository root) that stage ``stage`` runs: what its deps must cover."""
    parts = [f"tasks/{search.name}", *_ALWAYS, *stage.code]
    return [f"{PACKAGE_DIR}/{p}" for p in dict.fromkeys(parts)]


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in deps)


def _command_words(cmd: str) -> list[str]:
    first = str(cmd).split("&&")[0]
    return first.split()[:3]


def check_pipeline(root: str | Path = ".", *, only: list[str] | None = None) -> list[str]:
    """Compare every registered search's stages with ``root/dvc.yaml`` and ``root/MLproject``.

    Parameters
    ----------
    root : path
        The repository root.
    only : list of str, optional
        Check only these searches.

    Returns
    -------
    list of str
        One line per problem, naming the file, the stage and the fix; empty when all agree.

    Raises
    ------
    ConfigError
        A file is missing or not YAML; a search named in ``only`` is not registered.
    """
    root = Path(root)
    dvc = _read_yaml(root / "dvc.yaml").get("stages") or {}
    mlproject = _read_yaml(root / "MLproject").get("entry_points") or {}
    found = searches()
    unknown = sorted(set(only or ()) - set(found))
    if unknown:
        raise ConfigError(f"no search named {', '.join(unknown)}; registered searches: {', '.join(found)}")
    problems: list[str] = []
    for name, search in found.items():
        if only and name not in only:
            continue
        for st in search.stages():
            want = ["skysieve", st.verb, st.command]
            stage = dvc.get(st.name)
            if stage is None:
                problems.append(f"dvc.yaml: stage '{st.name}' of search '{name}' is missing; add it with "
                                f"cmd: {' '.join(want)} …, the params {sorted(st.params)} and deps on "
                                f"{', '.join(stage_code(search, st))}")
            else:
                got = _command_words(stage.get("cmd", ""))
                if got != want:
                    problems.append(f"dvc.yaml: stage '{st.name}' runs {' '.join(got) or 'nothing'}; search "
                                    f"'{name}' declares {' '.join(want)}")
                listed, declared = _params_of(stage), set(st.params)
                if declared - listed:
                    problems.append(f"dvc.yaml: stage '{st.name}' params omit {sorted(declared - listed)}, which "
                                    f"`{' '.join(want)}` reads; add them so a change reruns the stage")
                if listed - declared:
                    problems.append(f"dvc.yaml: stage '{st.name}' params list {sorted(listed - declared)}, which "
                                    f"`{' '.join(want)}` does not read; remove them (they rerun it for nothing)")
                deps = _deps_of(stage)
                missing = [p for p in stage_code(search, st) if not _covered(p, deps)]
                if missing:
                    problems.append(f"dvc.yaml: stage '{st.name}' deps omit the code it runs: {missing}; add them "
                                    "so a code change reruns the stage")
            entry = mlproject.get(st.name)
            if entry is None:
                problems.append(f"MLproject: entry point '{st.name}' of search '{name}' is missing; add one running "
                                f"{' '.join(want)} --params {{params}}")
            else:
                got = _command_words((entry or {}).get("command", ""))
                if got != want:
                    problems.append(f"MLproject: entry point '{st.name}' runs {' '.join(got) or 'nothing'}; search "
                                    f"'{name}' declares {' '.join(want)}")
    return problems
