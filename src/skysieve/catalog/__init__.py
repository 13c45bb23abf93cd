"""Catalog production: a registered model over new maps or cutouts → a candidate catalog to publish.

``skysieve catalog --model models:/NAME@champion --maps … --out cat.fits``
resolves the registered ensemble (thresholds, reference distributions, its
CNN and the catalog config stored with it), runs the matched filter with
source detection, scores overlapping tiles with the CNN in streamed batches,
combines the two with the model's methods, merges the tiles of one object and
writes a FITS table whose header traces every row to the model, the maps and
the code.  See ``docs/catalog.md``.

For the lens task, ``skysieve catalog --model models:/skysieve-lens-cnn@champion
--cutouts DIR`` (or ``--images … --positions …``) scores multi-band cutouts
with the registered lens classifier (:func:`make_lens_catalog`, its lens
catalog config stored at registration by :func:`lens_catalog_tags`).  See the
"Catalog of lens candidates" section of ``docs/lens.md``.
"""

from skysieve.catalog._config import (
    CATALOG_CONFIG_TAG,
    CatalogConfig,
    catalog_config_from_params,
    catalog_tags,
    read_catalog_config,
)
from skysieve.catalog._lens import LensCatalogModel, load_lens_catalog_model, make_lens_catalog, read_lens_truth
from skysieve.catalog._lens_config import (
    LENS_CATALOG_CONFIG_TAG,
    LensBand,
    LensCatalogConfig,
    lens_catalog_config_from_params,
    lens_catalog_tags,
    read_lens_catalog_config,
)
from skysieve.catalog._lens_inputs import (
    CutoutDirectory,
    PositionCutouts,
    combined_sha256,
    open_cutout_dir,
    open_positions,
    read_positions,
    unit_factor,
)
from skysieve.catalog._make import CatalogResult, code_version, file_sha256, make_catalog, write_catalog
from skysieve.catalog._merge import merge_tiles
from skysieve.catalog._mf import MapBlock, TileMf, filter_tiles, map_blocks
from skysieve.catalog._model import TASK_TAG, CatalogModel, ModelRef, load_catalog_model, parse_model_uri, resolve_model
from skysieve.catalog._tiles import TileBatch, TileGrid, iter_tile_batches, tile_grid
from skysieve.catalog._truth import check_truth, match_one_to_one, select_truth, truth_counts

__all__ = [
    "CATALOG_CONFIG_TAG",
    "LENS_CATALOG_CONFIG_TAG",
    "TASK_TAG",
    "CatalogConfig",
    "CatalogModel",
    "CatalogResult",
    "CutoutDirectory",
    "LensBand",
    "LensCatalogConfig",
    "LensCatalogModel",
    "MapBlock",
    "ModelRef",
    "PositionCutouts",
    "TileBatch",
    "TileGrid",
    "TileMf",
    "catalog_config_from_params",
    "catalog_tags",
    "check_truth",
    "code_version",
    "combined_sha256",
    "file_sha256",
    "filter_tiles",
    "iter_tile_batches",
    "lens_catalog_config_from_params",
    "lens_catalog_tags",
    "load_catalog_model",
    "load_lens_catalog_model",
    "make_catalog",
    "make_lens_catalog",
    "map_blocks",
    "match_one_to_one",
    "merge_tiles",
    "open_cutout_dir",
    "open_positions",
    "parse_model_uri",
    "read_catalog_config",
    "read_lens_catalog_config",
    "read_lens_truth",
    "read_positions",
    "resolve_model",
    "select_truth",
    "tile_grid",
    "truth_counts",
    "unit_factor",
    "write_catalog",
]
