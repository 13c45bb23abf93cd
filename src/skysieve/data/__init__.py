"""Data hand-offs: FITS maps, cutout datasets (streamed from HDF5) and their validation."""

from skysieve.data.dataset import CutoutDataset, CutoutReader, open_dataset, read_rows
from skysieve.data.footprint import Footprint, make_footprint, read_weights
from skysieve.data.maps import SkyMaps, band_name, read_maps, write_map
from skysieve.data.targets import (
    TARGETS_KEY,
    DenseTargets,
    TargetReader,
    dense_targets,
    transpose_pairs,
    write_dense_targets,
)
from skysieve.data.validate import (
    ExpectationFailure,
    ValidationReport,
    catalog_frame,
    run_suite,
    suite_context,
    validate_dataset,
)

__all__ = [
    "TARGETS_KEY",
    "DenseTargets",
    "TargetReader",
    "dense_targets",
    "transpose_pairs",
    "write_dense_targets",
    "CutoutDataset",
    "CutoutReader",
    "ExpectationFailure",
    "Footprint",
    "SkyMaps",
    "ValidationReport",
    "band_name",
    "catalog_frame",
    "make_footprint",
    "open_dataset",
    "read_maps",
    "read_rows",
    "read_weights",
    "run_suite",
    "suite_context",
    "validate_dataset",
    "write_map",
]
