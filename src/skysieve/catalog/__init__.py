"""Catalog production, the engine's part: resolve a model to its search, tile, merge, match truth, write.

``skysieve catalog --model models:/NAME@champion … --out cat.fits`` resolves
the registered version (:func:`resolve_model`), finds the search that serves
it (its ``skysieve.task`` tag) and hands it the inputs; the search turns them
into a :class:`CatalogResult`, written atomically with a header that traces
every row to the model, the inputs and the code.  Overlapping tiles, the
merging of one object's tiles, one-to-one truth matching and multi-band
cutouts at given positions of large images (:func:`open_positions`) are
shared here.
Survey runs (many fields, on the serial loop or a Dask cluster) are
:func:`run_survey`, imported on first use (it imports ``distributed``).
See ``docs/catalog.md``.
"""

from typing import Any

from skysieve.catalog._fields import Field, fields_dir, find_fields
from skysieve.catalog._fits_checks import CutoutSpec
from skysieve.catalog._merge import drop_duplicates, merge_tiles
from skysieve.catalog._model import TASK_TAG, ModelRef, load_pyfunc, parse_model_uri, resolve_model
from skysieve.catalog._positions import PositionCutouts, open_positions, read_positions
from skysieve.catalog._tagged import read_stored_config
from skysieve.catalog._tiles import TileBatch, TileGrid, iter_tile_batches, tile_grid
from skysieve.catalog._truth import check_truth, match_one_to_one, select_truth, truth_counts
from skysieve.catalog._write import (
    CatalogResult,
    check_output,
    code_version,
    file_sha256,
    model_header,
    progress_bars,
    write_catalog,
)

__all__ = [
    "TASK_TAG",
    "CatalogResult",
    "CutoutSpec",
    "Field",
    "ModelRef",
    "PositionCutouts",
    "SurveyReport",
    "TileBatch",
    "TileGrid",
    "check_output",
    "check_truth",
    "code_version",
    "drop_duplicates",
    "fields_dir",
    "file_sha256",
    "find_fields",
    "iter_tile_batches",
    "load_pyfunc",
    "match_one_to_one",
    "merge_tiles",
    "model_header",
    "open_positions",
    "parse_model_uri",
    "progress_bars",
    "read_positions",
    "read_stored_config",
    "resolve_model",
    "run_survey",
    "select_truth",
    "tile_grid",
    "truth_counts",
    "write_catalog",
]


def __getattr__(name: str) -> Any:
    """``run_survey`` and ``SurveyReport`` on first use, so importing the catalog does not import Dask."""
    if name in {"run_survey", "SurveyReport"}:
        from skysieve.catalog import _survey

        return getattr(_survey, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
