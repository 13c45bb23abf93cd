"""Params the engine's data stages share: truth cuts on positives and the ``validate_<search>`` sections."""

from typing import Literal

from pydantic import Field, model_validator

from skysieve.config._base import Section

__all__ = ["PositiveCriteria", "ValidateParams"]


class PositiveCriteria(Section):
    """A cutout is positive iff a halo passing these cuts lies in its central region.

    DeepSZ labels by virial mass (M_vir >= 2e14 Msun, z >= 0.25); ``mass_column``
    picks the halo-catalog column the cut applies to.
    """

    mass_column: Literal["mvir", "m500c"] = "mvir"
    m_min_msun: float = Field(2e14, gt=0)
    z_min: float = Field(0.25, ge=0)


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
