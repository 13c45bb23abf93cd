"""Params of the data stages: ``cutouts_sz`` and ``validate_sz``."""

from typing import Literal

from pydantic import Field, model_validator

from skysieve.config._base import Section

__all__ = ["CutoutsSzParams", "PositiveCriteria", "SplitParams", "ValidateParams"]


class PositiveCriteria(Section):
    """A cutout is positive iff a halo passing these cuts lies in its central region.

    DeepSZ labels by virial mass (M_vir >= 2e14 Msun, z >= 0.25); ``mass_column``
    picks the halo-catalog column the cut applies to.
    """

    mass_column: Literal["mvir", "m500c"] = "mvir"
    m_min_msun: float = Field(2e14, gt=0)
    z_min: float = Field(0.25, ge=0)


class SplitParams(Section):
    """Spatial split by RA, as fractions of the patch width from its low-RA edge.

    DeepSZ: test RA < 0.13 × 90°, validation up to 0.2 × 90°, training above.
    """

    test_frac: float = Field(0.13, gt=0, lt=1)
    val_frac: float = Field(0.07, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum(self) -> "SplitParams":
        if self.test_frac + self.val_frac >= 1:
            raise ValueError(f"test_frac + val_frac must be < 1 (got {self.test_frac + self.val_frac})")
        return self


class CutoutsSzParams(Section):
    """The ``cutouts_sz`` stage: staggered square cutouts with spatial splits."""

    size_arcmin: float = Field(8.0, gt=0)
    stride_arcmin: float = Field(6.0, gt=0)
    central_arcmin: float = Field(6.0, gt=0)
    positive: PositiveCriteria = PositiveCriteria()
    split: SplitParams = SplitParams()
    drop_adjacent_negatives_in_train: bool = True
    group_tile_deg: float = Field(1.0, gt=0, description="side of the sky tiles used as k-fold groups")

    @model_validator(mode="after")
    def _geometry(self) -> "CutoutsSzParams":
        if self.central_arcmin > self.size_arcmin:
            raise ValueError(f"central_arcmin must be <= size_arcmin (got {self.central_arcmin} > {self.size_arcmin})")
        if self.stride_arcmin > self.size_arcmin:
            raise ValueError(f"stride_arcmin must be <= size_arcmin (got {self.stride_arcmin} > {self.size_arcmin})")
        return self


class ValidateParams(Section):
    """Expectations checked by ``skysieve validate`` on a cutout dataset."""

    label_rate_min: float = Field(0.005, ge=0, le=1)
    label_rate_max: float = Field(0.2, ge=0, le=1)
    min_positives: int = Field(1, ge=0)
    max_abs_pixel_uk: float = Field(1e6, gt=0, description="|pixel| above this is flagged as unphysical")

    @model_validator(mode="after")
    def _band(self) -> "ValidateParams":
        if self.label_rate_max < self.label_rate_min:
            raise ValueError(
                f"label_rate_max must be >= label_rate_min (got {self.label_rate_max} < {self.label_rate_min})"
            )
        return self
