"""The catalog config stored with a model version: from params, as tags, and back."""

import json

import pytest

from skysieve.catalog import parse_model_uri
from skysieve.config import Params
from skysieve.errors import RegistryError
from skysieve.tasks.sz._catalog_config import (
    CATALOG_CONFIG_TAG,
    catalog_config_from_params,
    catalog_tags,
    read_catalog_config,
)
from tests.catalog.conftest import catalog_params


def test_config_round_trips_through_the_version_tag():
    params = catalog_params()
    tags = catalog_tags(params)
    assert set(tags) == {CATALOG_CONFIG_TAG} and isinstance(tags[CATALOG_CONFIG_TAG], str)
    cfg = read_catalog_config(tags, where="model 'm' v1")
    assert (cfg.size_px, cfg.central_px, cfg.pixel_arcmin) == (16, 12, 0.25)
    assert cfg.beams == {"90GHz": 1.7, "148GHz": 1.2, "219GHz": 1.1}
    assert cfg.mf == params.mf_sz and cfg.positive == params.cutouts_sz.positive
    assert json.loads(tags[CATALOG_CONFIG_TAG]) == catalog_config_from_params(params)


def test_a_version_registered_with_the_whole_params_works_too():
    params = Params()
    cfg = read_catalog_config({"params": json.dumps(params.model_dump(mode="json"))}, where="model 'm' v2")
    assert (cfg.size_px, cfg.central_px) == (32, 24)


@pytest.mark.parametrize("tags, message", [
    ({}, r"model 'm' v3 has no 'catalog_config' tag .*catalog_tags\(params\)"),
    ({"params": json.dumps({"train_sz": {}})}, "has no 'catalog_config' tag"),
    ({CATALOG_CONFIG_TAG: "{not json"}, "tag 'catalog_config' is not a valid catalog config"),
    ({CATALOG_CONFIG_TAG: json.dumps({"bands": []})}, "tag 'catalog_config' is not a valid catalog config"),
    ({CATALOG_CONFIG_TAG: json.dumps({**catalog_config_from_params(Params()), "format": "skysieve.catalog_config/9"})},
     "format 'skysieve.catalog_config/9' is not 'skysieve.catalog_config/1'"),
])
def test_missing_or_broken_config_says_how_to_register(tags, message):
    with pytest.raises(RegistryError, match=message):
        read_catalog_config(tags, where="model 'm' v3")


def test_a_params_tag_that_does_not_validate_says_why():
    payload = Params().model_dump(mode="json")
    payload["cutouts_sz"]["size_arcmin"] = -8.0
    with pytest.raises(RegistryError, match=r"(?s)model 'm' v4 has no 'catalog_config' tag, and its 'params' tag does not "
                                            r"give a valid catalog config \(.*cutouts_sz.size_arcmin.*greater than 0"
                                            r".*\); register the ensemble with"):
        read_catalog_config({"params": json.dumps(payload)}, where="model 'm' v4")


def test_a_params_tag_that_is_not_json_says_so():
    with pytest.raises(RegistryError, match=r"model 'm' v5 has no 'catalog_config' tag and its 'params' tag is not "
                                            r"JSON \(Expecting .*\); register the ensemble with"):
        read_catalog_config({"params": "{cutouts_sz: 1"}, where="model 'm' v5")


def test_model_uris():
    assert parse_model_uri("models:/skysieve-sz-ensemble@champion") == ("skysieve-sz-ensemble", None, "champion")
    assert parse_model_uri("models:/x/12") == ("x", "12", None)
    for bad in ("runs:/abc/model", "models:/x", "models:/x/latest", "x@champion"):
        with pytest.raises(RegistryError, match="expected models:/NAME@ALIAS"):
            parse_model_uri(bad)
