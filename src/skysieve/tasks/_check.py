"""``skysieve pipeline check``: every registered search's stages against ``dvc.yaml`` and ``MLproject``.

``dvc.yaml``, ``MLproject`` and ``params.yaml`` stay plain files people read
and edit; this check keeps them honest against what each search declares
(:meth:`skysieve.tasks.Search.stages`):

* every stage is in ``dvc.yaml`` and runs ``skysieve <verb> <command>``;
* its ``params:`` are exactly the sections and dotted keys the command reads
  (a missing one would let a change go unnoticed; an extra one reruns the
  stage for nothing);
* its ``deps`` cover the code it runs, so a code change cannot leave a stale
  output that ``dvc repro`` calls up to date: the search's folder, the
  command line, the params and the search registry, and every skysieve
  module its command imports, followed import by import through the source
  (:func:`stage_code`; a subpackage is covered by its folder, a top-level
  module by its file);
* ``MLproject`` has an entry point of the same name running the same command.
"""

import ast
import inspect
from functools import cache
from pathlib import Path
from typing import Any

import yaml

import skysieve
from skysieve._io import load_yaml
from skysieve.errors import ConfigError
from skysieve.tasks._contract import Search, Stage
from skysieve.tasks._registry import searches

__all__ = ["PACKAGE_DIR", "check_pipeline", "stage_code"]

#: Where the package's source lives, relative to the repository root (as ``dvc.yaml`` names it).
PACKAGE_DIR = "src/skysieve"

#: Engine code every stage runs: its command line, its params, and the search registry both are built from.
_ALWAYS = ("skysieve.cli", "skysieve.config", "skysieve.tasks", "skysieve.tasks._contract", "skysieve.tasks._registry")

#: The engine's generic commands, by verb (the stages whose verb is here run them).
_GENERIC = {"tune": ("skysieve.cli._tune", "_command"), "train": ("skysieve.cli._train", "_command")}


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run skysieve pipeline check from the repository root (or give --root)")
    try:
        data = load_yaml(path.read_text()) or {}
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


def _module_file(name: str) -> Path | None:
    """The source file of skysieve module ``name`` (a package's ``__init__.py``), or None if there is none."""
    base = Path(skysieve.__file__).parent.joinpath(*name.split(".")[1:])
    if base.is_dir() and (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def _imports(tree: ast.AST, package: str, *, top_level: bool = False) -> set[str]:
    """The skysieve modules a syntax tree imports: anywhere in it (function bodies too), or only at its top level."""
    found: set[str] = set()
    for node in (tree.body if top_level else ast.walk(tree)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "skysieve")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parts, node.module] if node.module else parts)
            else:
                module = node.module or ""
            if module.split(".")[0] != "skysieve":
                continue
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}"))
    return {m for m in found if _module_file(m)}


@cache
def _parse(name: str) -> tuple[ast.Module, str]:
    path = _module_file(name)
    return ast.parse(path.read_text()), name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


@cache
def _closure(start: frozenset[str]) -> frozenset[str]:
    """Every skysieve module reachable by imports from ``start``.

    A module reached brings every module it imports, its function bodies'
    included (which of its functions run is not known); the packages above a
    module (importing ``a.b.c`` runs ``a`` and ``a.b``) bring only what they
    import at their top level.
    """
    seen: set[str] = set()
    todo = [(m, False) for m in start]
    while todo:
        name, parent_only = todo.pop()
        if (name, parent_only) in seen or (parent_only and (name, False) in seen) or _module_file(name) is None:
            continue
        seen.add((name, parent_only))
        parts = name.split(".")
        todo.extend((".".join(parts[:i]), True) for i in range(1, len(parts)))
        tree, package = _parse(name)
        todo.extend((m, False) for m in _imports(tree, package, top_level=parent_only))
    return frozenset(m for m, _ in seen)


def _dep_of(module: str) -> str:
    """The ``dvc.yaml`` dep that covers a module: its subpackage's folder, a search's folder, or its file."""
    parts = module.split(".")
    path = _module_file(module)
    if len(parts) >= 3 and parts[1] == "tasks" and _module_file(".".join(parts[:3])).name == "__init__.py":
        return f"{PACKAGE_DIR}/tasks/{parts[2]}"  # a search: its whole folder
    if len(parts) >= 2 and parts[1] != "tasks" and _module_file(".".join(parts[:2])).name == "__init__.py":
        return f"{PACKAGE_DIR}/{parts[1]}"  # an engine subpackage: its folder
    return f"{PACKAGE_DIR}/{path.relative_to(Path(skysieve.__file__).parent).as_posix()}"


def _command_func(search: Search, stage: Stage) -> Any:
    if stage.verb in _GENERIC:
        module, attr = _GENERIC[stage.verb]
        import importlib

        return getattr(importlib.import_module(module), attr)
    for c in search.commands():
        if (c.verb, c.name) == (stage.verb, stage.command):
            return c.func
    return None


def stage_code(search: Search, stage: Stage) -> list[str]:
    """The source the stage runs, as ``dvc.yaml`` deps (relative to the repository root).

    The search's folder, the command line, the params and the search registry,
    every skysieve module the stage's command function imports followed
    through the source (function-level imports included, so the closure is
    generous, never short), and the stage's declared :attr:`Stage.code`.
    Subpackages are covered by their folder, top-level modules by their file.
    """
    start = set(_ALWAYS)
    func = _command_func(search, stage)
    if func is not None:
        source = inspect.getsource(inspect.unwrap(func))
        start |= _imports(ast.parse(inspect.cleandoc("\n" + source) if source[:1].isspace() else source),
                          func.__module__.rsplit(".", 1)[0])
    deps = [f"{PACKAGE_DIR}/tasks/{search.name}"]
    deps += sorted({_dep_of(m) for m in _closure(frozenset(start)) if m != "skysieve"} - set(deps))
    deps += [f"{PACKAGE_DIR}/{c}" for c in stage.code if f"{PACKAGE_DIR}/{c}" not in deps]
    return deps


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in deps)


#: MLproject's entry points run skysieve through this launcher (it finds the environment; see bin/with-env).
_LAUNCHER = "bin/skysieve"


def _command_words(cmd: str) -> list[str]:
    """The first three words of ``cmd``; MLproject's launcher ``bin/skysieve`` counts as ``skysieve``."""
    words = str(cmd).split("&&")[0].split()[:3]
    if words and words[0] == _LAUNCHER:
        words[0] = "skysieve"
    return words


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
                                f"{_LAUNCHER} {' '.join(want[1:])} --params {{params}}")
            else:
                command = str((entry or {}).get("command", ""))
                got = _command_words(command)
                if got == want and command.split()[0] != _LAUNCHER:
                    problems.append(f"MLproject: entry point '{st.name}' runs {command.split()[0]}, which is only "
                                    f"found in an activated virtualenv; run {_LAUNCHER} (it finds the environment)")
                elif got != want:
                    problems.append(f"MLproject: entry point '{st.name}' runs {' '.join(got) or 'nothing'}; search "
                                    f"'{name}' declares {' '.join(want)}")
    return problems
