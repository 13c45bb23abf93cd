"""The search registry: entry points, $SKYSIEVE_TASKS, clear errors for a broken plug-in."""

import os
import subprocess
import sys

import pytest

from skysieve.errors import ConfigError
from skysieve.tasks import Search, get_search, register_search, reset_searches, searches
from tests.conftest import REPO
from tests.tasks.blobs import BlobSearch


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv("SKYSIEVE_TASKS", raising=False)
    reset_searches()
    yield
    reset_searches()


def test_entry_points_give_the_five_searches():
    found = searches()
    assert list(found) == ["detect", "lens", "members", "morphology", "sz"]
    for name, search in found.items():
        assert type(search).__module__ == f"skysieve.tasks.{name}"
    assert get_search("lens").doc == "docs/lens.md"


def test_an_unknown_search_lists_the_registered_ones():
    with pytest.raises(ConfigError, match="no search named 'nope'; registered searches: detect, lens, members, morphology, sz"):
        get_search("nope")


@pytest.mark.parametrize("spec, expect", [
    ("tests.tasks.blobs", "expected module:attribute"),
    ("tests.tasks.nowhere:search", "cannot load it"),
    ("tests.tasks.blobs:NAME", "'blobs' is not a skysieve.tasks.Search"),
])
def test_a_broken_env_entry_is_a_config_error_naming_it(monkeypatch, spec, expect):
    monkeypatch.setenv("SKYSIEVE_TASKS", spec)
    with pytest.raises(ConfigError, match=f"SKYSIEVE_TASKS entry {spec!r}: .*{expect}"):
        searches()


def test_register_search_adds_and_rebuilds_the_params_model():
    from skysieve.config import params_model

    assert "simulate_blobs" not in params_model().model_fields
    register_search(BlobSearch)
    assert "simulate_blobs" in params_model().model_fields
    reset_searches()
    assert "simulate_blobs" not in params_model().model_fields


def test_two_searches_may_not_own_one_section():
    class Thief(BlobSearch):
        name = "thief"

        def sections(self):
            return get_search("sz").sections()[:1]

    register_search(Thief)
    from skysieve.config import params_model

    with pytest.raises(ConfigError, match="params section 'cmb_spectrum' is declared by search '(sz|thief)' and by "
                                          "search '(sz|thief)'; rename one"):
        params_model()


def test_a_bad_name_is_refused():
    class Bad(BlobSearch):
        name = "Bad-Name"

    with pytest.raises(ConfigError, match="search name 'Bad-Name' must be lowercase letters and digits"):
        register_search(Bad)
    assert issubclass(Bad, Search)


def test_a_broken_plugin_makes_the_cli_exit_2_with_the_reason():
    env = {**os.environ, "SKYSIEVE_TASKS": "tests.tasks.nowhere:search"}
    code = "import sys; sys.argv = ['skysieve', '--help']; from skysieve.cli import main; main()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                         cwd=REPO)
    assert out.returncode == 2, out.stderr
    assert "cannot load it" in out.stderr


def test_a_version_serves_the_search_its_tag_names_and_old_untagged_ones_are_recognized():
    from skysieve.catalog import ModelRef
    from skysieve.errors import RegistryError
    from skysieve.tasks.lens._catalog_config import LENS_CATALOG_CONFIG_TAG
    from skysieve.tasks.sz._catalog_config import CATALOG_CONFIG_TAG

    def ref(tags):
        return ModelRef("models:/m@champion", "m", "3", "champion", "r", tags)

    assert ref({"skysieve.task": "lens"}).task == "lens"
    assert ref({CATALOG_CONFIG_TAG: "{}"}).task == "sz"  # registered before the tag: its catalog config tells
    assert ref({LENS_CATALOG_CONFIG_TAG: "{}"}).search is get_search("lens")
    with pytest.raises(RegistryError, match="model 'm' v3 has no 'skysieve.task' tag and no registered search "
                                            "recognizes it; set the tag"):
        ref({"params": "{}"}).task
    with pytest.raises(RegistryError, match="model 'm' v3 serves search 'blobs', which is not installed here"):
        ref({"skysieve.task": "blobs"}).search
