"""``check_search``: one battery of checks every search must pass (scikit-learn's ``check_estimator`` for searches).

Run on every registered search and on the toy one, so a new search gets the
same checks without writing them.
"""

import inspect

import pytest

from skysieve.tasks import Search, get_search
from tests.conftest import REPO, searches_from

ENGINE_SECTIONS = {"cosmology"}
GENERIC_VERBS = {"tune", "train"}


def check_search(search: Search) -> None:
    """Assert that ``search`` keeps the contract of :class:`skysieve.tasks.Search`."""
    from skysieve.config import TrainParams, params_model

    name = search.name
    assert search.title and search.doc, f"{name}: needs a title and a doc page"
    assert (REPO / search.doc).is_file(), f"{name}: doc page {search.doc} is missing"

    # params: every section is the search's own (suffix), round-trips through YAML-like dicts, and is frozen/strict
    sections = search.sections()
    model = params_model()
    for spec in sections:
        assert spec.name.endswith(f"_{name}") or spec.name.startswith("cmb_"), f"{name}: section {spec.name}"
        assert spec.name in model.model_fields
        default = spec.default_value()
        assert isinstance(default, spec.model)
        dumped = default.model_dump(mode="json")
        assert spec.model.model_validate(dumped) == default, f"{spec.name} does not round-trip"
        assert spec.model.model_config.get("extra") == "forbid" and spec.model.model_config.get("frozen")
    params = model()
    assert model.model_validate(params.model_dump(mode="json")) == params

    # stages: unique names with the search suffix; their params exist; each runs a command that exists
    stages = search.stages()
    assert len({s.name for s in stages}) == len(stages)
    commands = {(c.verb, c.name) for c in search.commands()}
    for st in stages:
        assert st.name.endswith(f"_{name}") or st.name.startswith("cmb_"), st.name
        for key in st.params:
            head, *rest = key.split(".")
            assert head in model.model_fields, f"{st.name}: params key {key} is not a section"
            value = getattr(params, head)
            for part in rest:
                value = getattr(value, part)  # a dotted key names a real field
        if st.verb in GENERIC_VERBS:
            assert f"{st.verb}_{name}" in model.model_fields, f"{st.name} needs section {st.verb}_{name}"
        else:
            assert (st.verb, st.command) in commands, f"{st.name}: no command skysieve {st.verb} {st.command}"
    # every command has help (its docstring) and keyword options with defaults
    for c in search.commands():
        assert inspect.getdoc(c.func), f"skysieve {c.verb} {c.name} has no help"
    if any(st.verb == "register" for st in stages):
        assert search.model_names(params), f"{name}: a register stage but no model names"
    for p in search.catalog_options():
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
    # an untagged version of another kind is not claimed
    assert search.recognizes({"params": "{}"}) is False
    # validation metrics load as module-level functions of (outputs, dataset, rows) that a train section may name
    for metric in search.validation_metrics:
        fn = search.validation_metric(metric)
        assert fn.__qualname__ == fn.__name__ and list(inspect.signature(fn).parameters)[:3] == [
            "outputs", "dataset", "rows"], f"{name}.{metric}: not a module-level fn(outputs, dataset, rows)"
        TrainParams(monitor=f"{name}.{metric}")


@pytest.fixture
def toy(monkeypatch):
    with searches_from(monkeypatch, "tests.tasks.blobs:search"):
        yield


@pytest.mark.parametrize("name", ["sz", "lens"])
def test_every_registered_search_keeps_the_contract(name):
    check_search(get_search(name))


def test_the_toy_search_keeps_the_contract(toy):
    check_search(get_search("blobs"))


def test_check_search_catches_a_broken_search(toy):
    from tests.tasks.blobs import BlobSearch

    class NoCommands(BlobSearch):
        def commands(self):
            return ()

    with pytest.raises(AssertionError, match="no command skysieve simulate blobs"):
        check_search(NoCommands())
