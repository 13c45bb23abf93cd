"""The catalog config stored with a model version: from params, as a document (or an old version's tags), and back."""

import json
import warnings

import pytest

from skysieve.catalog import parse_model_uri
from skysieve.config import Params
from skysieve.errors import ConfigDeprecationWarning, RegistryError
from skysieve.tasks.sz._catalog_config import (
    CATALOG_CONFIG_TAG,
    catalog_config_from_params,
    catalog_documents,
    read_catalog_config,
)
from tests.catalog.conftest import catalog_params


def test_config_round_trips_through_the_version_document():
    params = catalog_params()
    documents = catalog_documents(params)
    assert documents == {CATALOG_CONFIG_TAG: catalog_config_from_params(params)}
    cfg = read_catalog_config(documents, where="model 'm' v1")
    assert (cfg.size_px, cfg.central_px, cfg.pixel_arcmin) == (16, 12, 0.25)
    assert cfg.beams == {"90GHz": 1.7, "148GHz": 1.2, "219GHz": 1.1}
    assert cfg.mf == params.mf_sz and cfg.positive == params.cutouts_sz.positive
    # a version registered before documents existed holds it as a JSON tag
    tags = {CATALOG_CONFIG_TAG: json.dumps(catalog_config_from_params(params))}
    assert read_catalog_config({}, where="model 'm' v1", tags=tags) == cfg


def test_a_version_registered_with_the_whole_params_works_too():
    params = Params()
    cfg = read_catalog_config({"params": params.model_dump(mode="json")}, where="model 'm' v2")
    assert (cfg.size_px, cfg.central_px) == (32, 24)
    old = read_catalog_config({}, where="model 'm' v2", tags={"params": json.dumps(params.model_dump(mode="json"))})
    assert old == cfg


def test_a_version_stored_before_the_sources_rename_reads_back_as_find_without_a_warning():
    """``mf_sz.sources: detect`` (the old name of ``find``) in a registered version: nobody can edit it, so no warning."""
    params = catalog_params()
    old = catalog_config_from_params(params)
    old["mf"] = {**old["mf"], "sources": "detect"}
    whole = params.model_dump(mode="json")
    whole["mf_sz"]["sources"] = "detect"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigDeprecationWarning)
        cfg = read_catalog_config({CATALOG_CONFIG_TAG: old}, where="model 'm' v1")
        from_params = read_catalog_config({"params": whole}, where="model 'm' v1")
    assert cfg.mf.sources == from_params.mf.sources == "find"
    assert cfg == read_catalog_config(catalog_documents(params), where="model 'm' v1")


@pytest.mark.parametrize("documents, message", [
    ({}, (r"model 'm' v3 has no document 'catalog_config' \(artifact skysieve/catalog_config.json\) .*"
          r"catalog_documents\(params\)")),
    ({"params": {"train_sz": {}}}, "has no document 'catalog_config'"),
    ({CATALOG_CONFIG_TAG: {"bands": []}}, r"document 'catalog_config' \(.*\) is not a valid catalog config"),
    ({CATALOG_CONFIG_TAG: {**catalog_config_from_params(Params()), "format": "skysieve.catalog_config/9"}},
     "format 'skysieve.catalog_config/9' is not 'skysieve.catalog_config/1'"),
])
def test_missing_or_broken_config_says_how_to_register(documents, message):
    with pytest.raises(RegistryError, match=message):
        read_catalog_config(documents, where="model 'm' v3")


def test_params_that_do_not_validate_say_why():
    payload = Params().model_dump(mode="json")
    payload["cutouts_sz"]["size_arcmin"] = -8.0
    with pytest.raises(RegistryError, match=r"(?s)model 'm' v4 has no document 'catalog_config' .*, and its stored "
                                            r"params do not give a valid catalog config \(.*cutouts_sz.size_arcmin.*"
                                            r"greater than 0.*\); register the ensemble with"):
        read_catalog_config({"params": payload}, where="model 'm' v4")


def test_an_old_versions_tag_that_is_not_json_says_so():
    with pytest.raises(RegistryError, match=r"model 'm' v5: tag 'params' is not JSON \(Expecting .*\); register the "
                                            r"ensemble with"):
        read_catalog_config({}, where="model 'm' v5", tags={"params": "{cutouts_sz: 1"})


def test_model_uris():
    assert parse_model_uri("models:/skysieve-sz-ensemble@champion") == ("skysieve-sz-ensemble", None, "champion")
    assert parse_model_uri("models:/x/12") == ("x", "12", None)
    for bad in ("runs:/abc/model", "models:/x", "models:/x/latest", "x@champion"):
        with pytest.raises(RegistryError, match="expected models:/NAME@ALIAS"):
            parse_model_uri(bad)
