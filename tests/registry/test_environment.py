"""What a registered model carries: the skysieve modules its code imports, and requirements pinned to the lock."""

import ast
import re
from pathlib import Path

import pytest

import skysieve.registry
from skysieve.errors import RegistryError
from skysieve.registry._environment import (
    BASE_REQUIREMENTS,
    lock_file,
    model_environment,
    pinned_requirements,
    shipped_modules,
)

REGISTRY = Path(skysieve.registry.__file__).parent
CNN_CODE = REGISTRY / "_cnn_code.py"
ENSEMBLE_CODE = REGISTRY / "_model_code.py"
PACKAGE = REGISTRY.parent


def _lock() -> dict[str, str]:
    pins = {}
    for line in lock_file().read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


def test_the_cnn_ships_only_the_modules_that_load_the_fold_models():
    # A new import in one of these modules grows the environment of every registered CNN: keep it lean.
    # skysieve.data.dihedral: the test-time augmentation's D4 views (numpy only)
    assert list(shipped_modules(CNN_CODE)) == [
        "skysieve._io", "skysieve.data.dihedral", "skysieve.errors", "skysieve.nets._layers", "skysieve.nets._losses",
        "skysieve.registry._cnn", "skysieve.train._calibrate", "skysieve.train._ensemble"]


def test_the_ensemble_ships_only_the_modules_that_apply_thresholds_and_ranks():
    modules = shipped_modules(ENSEMBLE_CODE)
    assert list(modules) == [
        "skysieve.config._base", "skysieve.config._evaluate", "skysieve.ensemble._methods",
        "skysieve.ensemble._reference", "skysieve.errors", "skysieve.metrics._binary", "skysieve.registry._pyfunc"]
    assert modules["skysieve.registry._pyfunc"] == REGISTRY / "_pyfunc.py"


@pytest.mark.parametrize(("code", "backend"), [(CNN_CODE, True), (ENSEMBLE_CODE, False)])
def test_requirements_are_pinned_to_the_lock_and_never_name_skysieve(code, backend):
    with model_environment(code) as env:
        requirements = env.pip_requirements
        constraints = Path(requirements[-1].removeprefix("-c ")).read_text().splitlines()
    pins = _lock()
    assert requirements[0] == f"mlflow=={pins['mlflow']}"
    assert requirements[-1].startswith("-c ")
    names = []
    for line in requirements[:-1] + constraints:
        name, _, version = line.partition("==")
        assert version == pins[name], line  # every line pinned, to the lock's version
        names.append(name)
    assert "skysieve" not in names  # an unpublished name resolved from a public index: never
    assert set(BASE_REQUIREMENTS) <= {r.partition("==")[0] for r in requirements}
    # The Keras backend travels with a Keras model, and only with one.
    assert ("tensorflow-cpu" in names) is backend and ("keras" in names) is backend
    # The constraints are what pip installs beside the requirements: nothing of the rest of the lock.
    assert "astropy" not in names and "dvc" not in names and "optuna" not in names


def test_the_staged_code_is_the_modules_verbatim_under_stub_packages():
    with model_environment(CNN_CODE) as env:
        (root,) = map(Path, env.code_paths)
        staged = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
        assert staged == ["__init__.py", "_io.py", "data/__init__.py", "data/dihedral.py", "errors.py",
                          "nets/__init__.py", "nets/_layers.py", "nets/_losses.py", "registry/__init__.py",
                          "registry/_cnn.py", "train/__init__.py", "train/_calibrate.py", "train/_ensemble.py"]
        assert (root / "train" / "_ensemble.py").read_text() == (PACKAGE / "train" / "_ensemble.py").read_text()
        stub = (root / "registry" / "__init__.py").read_text()
        body = ast.parse(stub).body  # a docstring, nothing that runs
        assert len(body) == 1 and isinstance(body[0], ast.Expr) and "shipped with a registered model" in stub
        assert env.modules == tuple(shipped_modules(CNN_CODE))
    assert not root.exists()  # removed once MLflow has copied it


def _code_file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "model_code.py"
    path.write_text(source)
    return path


def test_a_name_imported_from_a_package_is_refused_with_the_fix(tmp_path):
    code = _code_file(tmp_path, "from skysieve.train import load_trained\n")
    with pytest.raises(RegistryError, match=r"model_code.py: imports load_trained from the package skysieve.train; "
                                            r"a module shipped .* imports from the module that defines"):
        shipped_modules(code)


def test_a_training_only_module_imported_at_module_level_is_refused(tmp_path):
    code = _code_file(tmp_path, "import skysieve.train._stream\n")
    with pytest.raises(RegistryError, match=r"imports skysieve.train._stream at module level; import it inside "
                                            r"the function that needs it \(it streams cutout datasets"):
        shipped_modules(code)
    # Inside a function it is fine: the model never calls it.
    inside = _code_file(tmp_path, "def f():\n    import skysieve.train._stream\n")
    assert shipped_modules(inside) == {}


def test_a_module_no_distribution_provides_is_refused():
    with pytest.raises(RegistryError, match=r"x.py: imports not_a_module_anywhere, which no installed distribution"):
        pinned_requirements({"not_a_module_anywhere": "x.py"})


def test_a_requirement_missing_from_the_lock_names_the_lock(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("mlflow==3.17.2\nnumpy==2.4.6\npandas==3.1.1\n")
    with pytest.raises(RegistryError, match=r"requirements.lock: no pin for scipy \(needed by skysieve/train/"
                                            r"_calibrate.py\); add `NAME==VERSION` lines to the lock"):
        pinned_requirements({"scipy": "skysieve/train/_calibrate.py"}, lock=lock)
