"""Catalog production: a registered model over new maps → a candidate catalog to publish.

``skysieve catalog --model models:/NAME@champion --maps … --out cat.fits``
resolves the registered ensemble (thresholds, reference distributions, its
CNN and the catalog config stored with it), runs the matched filter with
source detection, scores overlapping tiles with the CNN in streamed batches,
combines the two with the model's methods, merges the tiles of one object and
writes a FITS table whose header traces every row to the model, the maps and
the code.  See ``docs/catalog.md``.
"""

from skysieve.catalog._config import (
    CATALOG_CONFIG_TAG,
    CatalogConfig,
    catalog_config_from_params,
    catalog_tags,
    read_catalog_config,
)
from skysieve.catalog._make import CatalogResult, code_version, file_sha256, make_catalog, write_catalog
from skysieve.catalog._merge import merge_tiles
from skysieve.catalog._mf import MapBlock, TileMf, filter_tiles, map_blocks
from skysieve.catalog._model import CatalogModel, load_catalog_model, parse_model_uri
from skysieve.catalog._tiles import TileBatch, TileGrid, iter_tile_batches, tile_grid
from skysieve.catalog._truth import check_truth, match_one_to_one, select_truth, truth_counts

__all__ = [
    "CATALOG_CONFIG_TAG",
    "CatalogConfig",
    "CatalogModel",
    "CatalogResult",
    "MapBlock",
    "TileBatch",
    "TileGrid",
    "TileMf",
    "catalog_config_from_params",
    "catalog_tags",
    "check_truth",
    "code_version",
    "file_sha256",
    "filter_tiles",
    "iter_tile_batches",
    "load_catalog_model",
    "make_catalog",
    "map_blocks",
    "match_one_to_one",
    "merge_tiles",
    "parse_model_uri",
    "read_catalog_config",
    "select_truth",
    "tile_grid",
    "truth_counts",
    "write_catalog",
]
