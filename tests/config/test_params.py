import warnings

import pytest
import yaml
from pydantic import ValidationError

from skysieve.config import Params, load_params
from skysieve.errors import ConfigDeprecationWarning, ConfigError
from tests.conftest import REPO


def write(tmp_path, data):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_repo_params_file_is_valid_and_complete():
    params = load_params(REPO / "params.yaml")
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    # Every section of the model is spelled out in params.yaml, so DVC can track each key.
    assert set(raw) == set(Params.model_fields)
    assert params.cutouts_sz.size_arcmin == 8.0


def test_missing_sections_take_defaults(tmp_path):
    params = load_params(write(tmp_path, {"simulate_sz": {"seed": 3}}))
    assert params.simulate_sz.seed == 3
    assert params.cutouts_sz == Params().cutouts_sz


def test_unknown_key_names_file_key_and_allowed(tmp_path):
    path = write(tmp_path, {"cutouts_sz": {"stride_arcmn": 6}})
    with pytest.raises(ConfigError, match=r"params.yaml: unknown key 'cutouts_sz.stride_arcmn'; allowed keys: .*stride_arcmin"):
        load_params(path)


def test_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'simulate'.*simulate_sz"):
        load_params(write(tmp_path, {"simulate": {}}))


def test_wrong_type_names_key_and_value(tmp_path):
    with pytest.raises(ConfigError, match=r"simulate_sz.seed: .*integer.*\(got 'abc'\)"):
        load_params(write(tmp_path, {"simulate_sz": {"seed": "abc"}}))


def test_out_of_range_value(tmp_path):
    with pytest.raises(ConfigError, match=r"simulate_sz.patch.pixel_arcmin: .*greater than 0.*\(got -1\)"):
        load_params(write(tmp_path, {"simulate_sz": {"patch": {"pixel_arcmin": -1}}}))


def test_literal_lists_allowed_values(tmp_path):
    with pytest.raises(ConfigError, match=r"cutouts_sz.positive.mass_column: .*'mvir' or 'm500c'"):
        load_params(write(tmp_path, {"cutouts_sz": {"positive": {"mass_column": "m200"}}}))


def test_cross_field_check(tmp_path):
    with pytest.raises(ConfigError, match=r"test_frac \+ val_frac must be < 1"):
        load_params(write(tmp_path, {"cutouts_sz": {"split": {"test_frac": 0.6, "val_frac": 0.5}}}))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_params_are_frozen():
    params = Params()
    with pytest.raises(ValidationError, match=r"SimulateSzParams\nseed\n +Instance is frozen"):
        params.simulate_sz.seed = 4
    with pytest.raises(ValidationError, match=r"for Params\nsimulate_sz\n +Instance is frozen"):
        params.simulate_sz = Params().cutouts_sz
    assert params.simulate_sz == Params().simulate_sz


def test_an_old_value_name_is_read_with_a_warning_naming_the_file_and_the_new_name(tmp_path):
    path = write(tmp_path, {"mf_sz": {"sources": "detect", "n_scales": 4}})
    with pytest.warns(ConfigDeprecationWarning) as record:
        params = load_params(path)
    assert [str(w.message) for w in record] == [
        f"{path}: mf_sz.sources: 'detect' is the old name of 'find' (same behaviour) and will stop being accepted; "
        "write `sources: find` in the mf_sz section"]
    assert record[0].filename == __file__  # points at the caller of load_params, not at pydantic
    assert params.mf_sz == load_params(write(tmp_path, {"mf_sz": {"sources": "find", "n_scales": 4}})).mf_sz


@pytest.mark.parametrize("name", ["params.yaml", "tests/tiny_params.yaml",
                                  *sorted(str(p.relative_to(REPO)) for p in (REPO / "params").glob("*.yaml"))])
def test_the_repository_s_params_files_use_no_old_value_names(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigDeprecationWarning)
        load_params(REPO / name)
