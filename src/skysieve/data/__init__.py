"""Data hand-offs: FITS maps, cutouts, cutout datasets and their validation."""

from skysieve.data.cutouts import CutoutGrid, cutout_grid, label_cutouts, plan_cutouts, write_cutouts
from skysieve.data.dataset import CutoutDataset, CutoutReader, open_dataset, read_rows
from skysieve.data.lens_cutouts import assign_lens_splits, make_lens_cutouts
from skysieve.data.maps import SkyMaps, band_name, read_maps, write_map
from skysieve.data.validate import (
    ExpectationFailure,
    ValidationReport,
    validate_dataset,
    validate_lens_catalog,
    validate_truth_catalogs,
)

__all__ = [
    "CutoutDataset",
    "CutoutGrid",
    "CutoutReader",
    "ExpectationFailure",
    "SkyMaps",
    "ValidationReport",
    "assign_lens_splits",
    "band_name",
    "cutout_grid",
    "label_cutouts",
    "make_lens_cutouts",
    "open_dataset",
    "plan_cutouts",
    "read_maps",
    "read_rows",
    "validate_dataset",
    "validate_lens_catalog",
    "validate_truth_catalogs",
    "write_cutouts",
    "write_map",
]
