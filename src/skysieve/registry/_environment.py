"""What a registered model carries to load where skysieve is not installed: its code and pinned requirements.

The registered pyfuncs are *models from code*: MLflow stores a small file
(``_cnn_code.py``, ``_model_code.py``) and runs it at load time, and that file
imports a few skysieve modules.  :func:`model_environment` gives
``mlflow.pyfunc.log_model`` what makes the version self-contained:

``code_paths``
    Every skysieve module the code file reaches through its imports (function
    bodies included: which functions run is not known), copied verbatim into a
    ``skysieve/`` tree that MLflow stores as the model's ``code/``.  Each
    package's ``__init__.py`` there is a stub: the real ones re-export their
    whole subpackage and would pull in all of skysieve (astropy, DVC,
    Optuna…).  So a shipped module imports a name from the module that defines
    it (``from skysieve.train._ensemble import load_trained``), never from a
    package, and the few modules only training needs (:data:`NOT_SHIPPED`) are
    imported inside the functions that use them; :func:`shipped_modules`
    refuses code that breaks either rule, naming the file and the fix.
``pip_requirements``
    ``mlflow``, ``numpy``, ``pandas`` (what any pyfunc needs to load and
    serve), the distribution of every third-party module the shipped code
    imports, and the Keras backend's distribution where Keras is one, each
    pinned ``==`` to its version in ``requirements.lock``.  Their dependencies,
    followed through the installed distributions' metadata, are pinned to the
    lock in the model's ``constraints.txt``, so pip rebuilds the environment
    the model was logged in (only packages that get installed are listed:
    MLflow checks every line against the environment that loads the model).  There is no ``skysieve`` requirement: the name is
    not published, and the code travels with the model.

MLflow puts the model's ``code/`` first on ``sys.path`` when it loads the
model.  A process that has already imported skysieve (``skysieve catalog``)
keeps its own modules: ``skysieve`` is in ``sys.modules`` and its submodules
resolve through ``skysieve.__path__``, never through ``sys.path``.  But the
processes it starts next (a Dask ``LocalCluster``, a process pool) inherit
``sys.path`` and would import the model's stub ``skysieve``: skysieve loads
models with :func:`load_pyfunc`, which puts ``sys.path`` back.
"""

import ast
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from skysieve.errors import RegistryError

__all__ = ["BASE_REQUIREMENTS", "NOT_SHIPPED", "ModelEnvironment", "flavour_requirements", "load_pyfunc", "lock_file",
           "model_environment", "pinned_requirements", "shipped_modules"]

def load_pyfunc(model_uri: str) -> Any:
    """``mlflow.pyfunc.load_model(model_uri)`` in a skysieve process, with ``sys.path`` left as it was.

    MLflow prepends the model's ``code/`` (a stub ``skysieve`` package) to
    ``sys.path`` and leaves it there; this process does not need it (its
    skysieve is imported), and a process started after the load (a Dask worker,
    a process-pool worker) would otherwise find ``skysieve`` there first and
    fail with ``No module named 'skysieve.catalog'``.
    """
    import mlflow.pyfunc

    before = list(sys.path)
    try:
        return mlflow.pyfunc.load_model(model_uri)
    finally:
        sys.path[:] = before


#: Distributions every registered pyfunc needs to load and serve, whatever its code imports.
BASE_REQUIREMENTS = ("mlflow", "numpy", "pandas")

#: skysieve modules a shipped module may import only inside a function, with why no model needs them.
NOT_SHIPPED = {
    "skysieve.train._stream": "streams cutout datasets (HDF5, astropy tables) for training and evaluation",
    "skysieve.registry._environment": "stages a model's code and pins its requirements when it is logged",
}

#: Packaging tools, left to the environment that installs the model (``python_env.yaml`` pins them), as in a lock.
_TOOLS = frozenset({"pip", "setuptools", "wheel"})

_STUB = '''"""Part of skysieve, shipped with a registered model (MLflow code_paths): only the modules the model imports.

Written by skysieve.registry._environment; the real package __init__ re-exports all of the subpackage.
"""
'''


@dataclass(frozen=True)
class ModelEnvironment:
    """The ``log_model`` arguments that make a registered version self-contained.

    Attributes
    ----------
    code_paths : list of str
        One directory, ``skysieve``, holding the shipped modules.
    pip_requirements : list of str
        ``name==version`` lines, then ``-c <file>`` pinning their dependencies (MLflow copies its lines into the
        model's ``constraints.txt``).
    modules : tuple of str
        The shipped skysieve modules, sorted.
    """

    code_paths: list[str]
    pip_requirements: list[str]
    modules: tuple[str, ...]


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def _module_file(name: str) -> Path | None:
    """The source file of skysieve module ``name`` (a package's ``__init__.py``), or None."""
    base = _package_dir().joinpath(*name.split(".")[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def _is_package(name: str) -> bool:
    path = _module_file(name)
    return path is not None and path.name == "__init__.py"


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _walk(tree: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """Every import node of a tree, with whether it runs at import time (outside functions); not TYPE_CHECKING."""
    stack = [(child, True) for child in ast.iter_child_nodes(tree)]
    while stack:
        node, top = stack.pop()
        if _is_type_checking(node):
            stack.extend((child, top) for child in node.orelse)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield node, top
        else:
            inner = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def _imports(path: Path, package: str) -> Iterator[tuple[str, str | None, bool]]:
    """(module, imported name or None, at import time) for every import in a file; relative ones resolved."""
    for node, top in _walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, top
        else:
            module = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parts, module] if module else parts)
            for alias in node.names:
                yield module, alias.name, top


def _where(path: Path) -> str:
    try:
        return str(path.relative_to(_package_dir().parent))
    except ValueError:
        return str(path)


def _scan(code_file: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """The skysieve modules a code file reaches (name → file) and its third-party top-level imports (→ importer)."""
    shipped: dict[str, Path] = {}
    third: dict[str, str] = {}
    todo: list[tuple[Path, str]] = [(code_file, "skysieve")]
    while todo:
        path, package = todo.pop()
        for module, name, top in _imports(path, package):
            root = module.split(".")[0]
            if root != "skysieve":
                if root and root not in sys.stdlib_module_names and root != "__future__":
                    third.setdefault(root, _where(path))
                continue
            if name is not None and _module_file(f"{module}.{name}") is not None:
                module, name = f"{module}.{name}", None
            if module in NOT_SHIPPED and not top:
                continue
            fix = None
            if module in NOT_SHIPPED:
                fix = (f"imports {module} at module level; import it inside the function that needs it "
                       f"(it {NOT_SHIPPED[module]}, which no registered model needs)")
            elif _module_file(module) is None:
                fix = f"imports {module}, which is not a skysieve module"
            elif _is_package(module):
                what = f"{name} from the package {module}" if name else f"the package {module}"
                fix = (f"imports {what}; a module shipped with a registered model imports from the module that "
                       f"defines the name ({module}._<module>), since the model carries stub package __init__ files")
            if fix:
                raise RegistryError(f"{_where(path)}: {fix}")
            if module not in shipped:
                shipped[module] = _module_file(module)
                todo.append((shipped[module], module.rsplit(".", 1)[0]))
    return shipped, third


def shipped_modules(code_file: str | Path) -> dict[str, Path]:
    """The skysieve modules a models-from-code file needs, following imports module by module.

    Parameters
    ----------
    code_file : path
        The file passed to ``mlflow.pyfunc.log_model`` as ``python_model``.

    Returns
    -------
    dict of str to Path
        Module name (``skysieve.registry._cnn``) → its source file, sorted by name.

    Raises
    ------
    RegistryError
        A shipped module imports a name from a package, a package itself, or a
        :data:`NOT_SHIPPED` module at module level.
    """
    shipped, _ = _scan(Path(code_file))
    return dict(sorted(shipped.items()))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_file() -> Path | None:
    """``requirements.lock`` of the checkout skysieve runs from, or None where skysieve is installed without one."""
    path = _package_dir().parents[1] / "requirements.lock"
    return path if path.is_file() else None


@cache
def _read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        found = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?\s*==\s*([^\s;#]+)", line)
        if found:
            pins[_canonical(found[1])] = found[2]
    return pins


@cache
def _distributions() -> dict[str, list[str]]:
    return {module: [_canonical(d) for d in dists] for module, dists in metadata.packages_distributions().items()}


def _keras_backend() -> str:
    import keras

    return keras.config.backend()


def _dependencies(dists: list[str]) -> list[str]:
    """The installed distributions ``dists`` depend on, transitively (markers evaluated here, extras followed)."""
    from packaging.requirements import Requirement

    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(d, frozenset()) for d in dists]
    while todo:
        dist, extras = todo.pop()
        if (dist, extras) in seen:
            continue
        seen.add((dist, extras))
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: nothing to pin it from
        for line in requires:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
                todo.append((_canonical(req.name), frozenset(req.extras)))
    return sorted({d for d, _ in seen} - set(dists) - _TOOLS)


def pinned_requirements(third_party: dict[str, str], *, lock: Path | None = None) -> tuple[list[str], list[str]]:
    """Pins of what a model imports, and of their dependencies.

    Parameters
    ----------
    third_party : dict of str to str
        Top-level module → the file that imports it (for messages).
    lock : path, keyword-only, optional
        The lock to pin from; default :func:`lock_file`.  Without one (skysieve
        installed without its checkout), the installed versions are pinned.

    Returns
    -------
    requirements : list of str
        ``name==version`` of :data:`BASE_REQUIREMENTS`, the distributions of
        ``third_party`` and the Keras backend's (where Keras is one), ``mlflow`` first.
    constraints : list of str
        ``name==version`` of every installed distribution those depend on, but
        pip, setuptools and wheel (a dependency the lock misses is pinned to
        its installed version).

    Raises
    ------
    RegistryError
        A module belongs to no installed distribution, or a required distribution has no pin in the lock.
    """
    lock = lock or lock_file()
    pins = _read_lock(lock) if lock else {}
    wanted = {name: "every registered pyfunc" for name in BASE_REQUIREMENTS}
    modules = dict(third_party)
    if "keras" in modules:
        modules.setdefault(_keras_backend(), f"the Keras backend of {modules['keras']}")
    for module, importer in modules.items():
        dists = _distributions().get(module)
        if not dists:
            raise RegistryError(f"{importer}: imports {module}, which no installed distribution provides; install it "
                                "or stop importing it from code a registered model ships")
        if not any(d in wanted for d in dists):
            for dist in [d for d in dists if d in pins] or dists[:1]:
                wanted.setdefault(dist, importer)
    missing = [f"{dist} (needed by {importer})" for dist, importer in wanted.items() if lock and dist not in pins]
    if missing:
        raise RegistryError(f"{lock}: no pin for {', '.join(missing)}; add `NAME==VERSION` lines to the lock")

    def pin(dist: str) -> str:
        return f"{dist}=={pins[dist] if dist in pins else metadata.version(dist)}"

    first, *rest = wanted
    return [pin(first), *sorted(map(pin, rest))], [pin(d) for d in _dependencies(list(wanted))]


def _stage(modules: dict[str, Path], directory: Path) -> Path:
    """Copy the modules into ``directory/skysieve`` with a stub ``__init__.py`` in every package; return the root."""
    root = directory / "skysieve"
    for name, path in modules.items():  # modules, never packages (see _scan)
        target = root.joinpath(*name.split(".")[1:]).with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    for package in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (package / "__init__.py").write_text(_STUB)
    return root


@contextmanager
def model_environment(code_file: str | Path, *, lock: Path | None = None) -> Iterator[ModelEnvironment]:
    """Stage the code a models-from-code file needs and pin its requirements, for ``log_model``.

    Use as ``with model_environment(code) as env: mlflow.pyfunc.log_model(python_model=code,
    code_paths=env.code_paths, pip_requirements=env.pip_requirements, …)``; the staged
    copy is removed on exit (MLflow has copied it into the model by then).

    Parameters
    ----------
    code_file : path
        The models-from-code file (``python_model``).
    lock : path, keyword-only, optional
        See :func:`pinned_requirements`.

    Yields
    ------
    ModelEnvironment

    Raises
    ------
    RegistryError
        See :func:`shipped_modules` and :func:`pinned_requirements`.
    """
    modules, third = _scan(Path(code_file))
    with tempfile.TemporaryDirectory(prefix="skysieve-code-") as tmp:
        root = _stage(modules, Path(tmp))
        yield ModelEnvironment(code_paths=[str(root)], pip_requirements=_with_constraints(third, Path(tmp), lock),
                               modules=tuple(sorted(modules)))


def _with_constraints(third_party: dict[str, str], directory: Path, lock: Path | None) -> list[str]:
    """:func:`pinned_requirements` as ``log_model``'s ``pip_requirements``: the pins, then ``-c constraints.txt``."""
    requirements, constraints = pinned_requirements(third_party, lock=lock)
    constraints_file = directory / "constraints.txt"
    constraints_file.write_text("".join(f"{c}\n" for c in constraints))
    return [*requirements, f"-c {constraints_file}"]


@contextmanager
def flavour_requirements(third_party: dict[str, str], *, lock: Path | None = None) -> Iterator[list[str]]:
    """``pip_requirements`` for a flavour's ``log_model`` (``mlflow.keras``): pinned from the lock, not inferred.

    Left to itself, ``log_model`` infers the requirements by loading the
    model in a fresh Python process (TensorFlow imported again): 11–12 s per
    logged Keras model here, against 0.4 s with the pins given
    (``benchmarks/bench_log_model.py``).  The pins are those of
    :func:`pinned_requirements` for ``third_party`` (top-level module → who
    imports it), with a constraints file for their dependencies, valid until
    the context exits.
    """
    with tempfile.TemporaryDirectory(prefix="skysieve-reqs-") as tmp:
        yield _with_constraints(third_party, Path(tmp), lock)
