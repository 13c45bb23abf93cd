"""Params of the matched-filter stage ``mf_sz``."""

import warnings
from typing import Literal

from pydantic import Field, field_validator, model_validator

from skysieve.config._base import Section
from skysieve.errors import ConfigDeprecationWarning

__all__ = ["MfParams"]

#: Old names of ``mf_sz.sources`` values, still accepted with a :class:`ConfigDeprecationWarning`.
RENAMED_SOURCES = {"detect": "find"}


def _default_ps_d3000() -> dict[str, float]:
    # DeepSZ section 2.1: flat C_ell point-source power with D_3000 = 2.7, 8.8, 71 µK² at 90, 148, 219 GHz.
    return {"90GHz": 2.7, "148GHz": 8.8, "219GHz": 71.0}


class MfParams(Section):
    """The ``mf_sz`` stage: multi-frequency matched filter, peak finding and cutout scores.

    The instrument (band frequencies, beams, white-noise levels) is read from
    ``simulate_sz.bands``; this section holds only what the filter adds.

    Filter scales are ``n_scales`` projected beta-model (beta = 1) core radii
    spaced linearly from ``theta_c_min_arcmin`` to ``theta_c_max_arcmin``
    (SPT: 0.25′ to 3′ in steps of 0.25′).  ``noise_model`` picks the noise
    covariance N(ℓ): ``"maps"`` estimates the auto and cross spectra from the
    (source-cleaned) maps themselves; ``"model"`` builds it from the CAMB CMB
    spectrum, the white-noise levels and the DeepSZ foreground levels below.
    """

    noise_model: Literal["model", "maps"] = "maps"
    n_scales: int = Field(12, ge=1, le=64)
    theta_c_min_arcmin: float = Field(0.25, gt=0, le=30)
    theta_c_max_arcmin: float = Field(3.0, gt=0, le=30)
    truncate_theta_c: float = Field(25.0, gt=1, le=200,
                                    description="template truncation radius in core radii (5 R500 for θc = 0.2 R500)")
    # Point sources
    sources: Literal["catalog", "find"] = Field(
        "find", description=("'find': find them in the maps with a beam-matched filter, as `skysieve catalog` must "
                             "on new maps ('detect', its old name, is still read, with a warning); 'catalog': the "
                             "simulation's truth source catalog"))
    source_treatment: Literal["subtract", "mask"] = "subtract"
    flux_cut_mjy: float = Field(2.0, ge=0, description="treat sources brighter than this in any band")
    source_snr_threshold: float = Field(5.0, gt=0, description="find mode: beam-filter SNR of a source")
    mask_radius_arcmin: float = Field(3.0, gt=0, le=60, description="mask mode: radius masked and inpainted")
    # Detections and matching (DeepSZ section 2.3)
    snr_threshold: float = Field(4.0, gt=0, description="pixels above this SNR form detection groups")
    centroid_core_fraction: float = Field(0.5, ge=0, lt=1, description="position: SNR-weighted mean of the group "
                                          "pixels above this fraction of its peak (0: all, as DeepSZ)")
    deblend_prominence: float | None = Field(
        None, gt=0, le=100, description="split a detection region at peaks of max-over-scales SNR this far above "
        "their saddle with a higher one (null: never; docs/matched_filter.md, 'Deblending')")
    match_radius_arcmin: float = Field(1.0, gt=0, le=30)
    match_mass_column: Literal["mvir", "m500c"] = "mvir"
    # Noise model (noise_model = "model"), DeepSZ section 2.1
    ps_d3000_uk2: dict[str, float] = Field(default_factory=_default_ps_d3000,
                                           description="point-source D_3000 per band name, µK_CMB²")
    sz_d3000_uk2: float = Field(3.6, ge=0, description="unresolved-tSZ D_3000 at sz_ref_freq_ghz, µK_CMB²")
    sz_ref_freq_ghz: float = Field(90.0, gt=0)
    ksz_d3000_uk2: float = Field(2.0, ge=0, description="kSZ D_3000 (flat in D_ell, same in every band), µK_CMB²")
    # Noise estimate (noise_model = "maps")
    ell_bin_width: float = Field(50.0, gt=0, description="ring width in ell (at least the patch's fundamental)")
    smooth_fraction: float = Field(0.1, ge=0, le=1, description="smoothing window full width, as a fraction of ell")

    @field_validator("sources", mode="before")
    @classmethod
    def _renamed_sources(cls, value: object) -> object:
        if isinstance(value, str) and value in RENAMED_SOURCES:
            new = RENAMED_SOURCES[value]
            warnings.warn(f"mf_sz.sources: '{value}' is the old name of '{new}' (same behaviour) and will stop "
                          f"being accepted; write `sources: {new}` in the mf_sz section", ConfigDeprecationWarning,
                          stacklevel=2)
            return new
        return value

    @model_validator(mode="after")
    def _check(self) -> "MfParams":
        if self.theta_c_max_arcmin < self.theta_c_min_arcmin:
            raise ValueError(f"theta_c_max_arcmin must be >= theta_c_min_arcmin "
                             f"(got {self.theta_c_max_arcmin} < {self.theta_c_min_arcmin})")
        if self.n_scales > 1 and self.theta_c_max_arcmin == self.theta_c_min_arcmin:
            raise ValueError(f"n_scales = {self.n_scales} needs theta_c_max_arcmin > theta_c_min_arcmin")
        bad = {k: v for k, v in self.ps_d3000_uk2.items() if v < 0}
        if bad:
            raise ValueError(f"ps_d3000_uk2 values must be >= 0 (got {bad})")
        return self
