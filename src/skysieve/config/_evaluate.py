"""Params of the closing stages a search shares: ``evaluate_<search>`` and ``ensemble_<search>``."""


import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from skysieve.config._base import Section

__all__ = ["EnsembleParams", "EvaluateParams", "increasing_edges"]


def increasing_edges(name: str, edges: tuple[float, ...]) -> tuple[float, ...]:
    if len(edges) < 2 or not all(b > a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"{name} must be at least two strictly increasing bin edges (got {list(edges)})")
    return edges


def _default_mass_bins() -> tuple[float, ...]:
    # 5e13 .. 1e15 Msun, 13 log-spaced edges; DeepSZ figure 10 spans ~1e14 .. 1e15
    return tuple(float(f"{m:.4g}") for m in np.geomspace(5e13, 1e15, 13))


class EvaluateParams(Section):
    """An ``evaluate_<search>`` section: binned completeness and score curves (DeepSZ figures 9–11).

    Thresholds are not params: they are chosen on the validation split by F1.
    The column names are those of the cutout catalog's truth columns.
    """

    mass_column: str = Field("mvir", min_length=1, description="truth column of the halo mass, Msun")
    redshift_column: str = Field("z", min_length=1)
    offset_column: str = Field("offset_arcmin", min_length=1, description="halo offset from the cutout centre")
    mass_bins_msun: tuple[float, ...] = Field(default_factory=_default_mass_bins)
    redshift_bins: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
    offset_bins_arcmin: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0)
    max_curve_points: int = Field(1000, ge=10, le=100_000, description="rows per curve CSV for dvc plots")
    bootstrap_resamples: int = Field(1000, ge=0, le=100_000,
                                     description="test-split resamples behind every 95 % interval; 0 = no intervals")
    bootstrap_seed: int = Field(0, ge=0, description="seed of the bootstrap resamples (same seed, same intervals)")

    @field_validator("mass_bins_msun", "redshift_bins", "offset_bins_arcmin")
    @classmethod
    def _edges(cls, v: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        return increasing_edges(info.field_name, v)


class EnsembleParams(Section):
    """An ``ensemble_<search>`` section: MF+CNN AND and rank-product ensembles (DeepSZ section 3.2).

    The AND grid takes ``and_grid_size`` quantiles of the validation positives'
    scores on each axis; when that is at least the number of positives the
    search is exact.
    """

    and_grid_size: int = Field(200, ge=2, le=5000, description="thresholds per axis of the AND grid")
