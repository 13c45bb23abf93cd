"""Params sections of the ``detect`` search (Chan & Stott's Deep-CEE on simulated SDSS-like fields)."""

from typing import Literal

from pydantic import Field, model_validator

from skysieve.config import Section

__all__ = [
    "BandDepth",
    "ClusterParams",
    "CutoutsDetectParams",
    "EvaluateDetectParams",
    "InjectDetectParams",
    "RegisterDetectParams",
    "SimulateDetectParams",
]


class BandDepth(Section):
    """One band: its name and 5σ point-source depth (AB mag)."""

    name: str
    depth_mag: float = Field(gt=10, lt=30)


def _sdss_bands() -> tuple[BandDepth, ...]:
    # SDSS 95 % completeness for point sources: g 22.2, r 22.2, i 21.3 (Abazajian et al. 2004)
    return (BandDepth(name="g", depth_mag=22.2), BandDepth(name="r", depth_mag=22.2),
            BandDepth(name="i", depth_mag=21.3))


class ClusterParams(Section):
    """Simulated clusters: mass, redshift, richness and the red-sequence population.

    Members (``richness`` of them inside R200) follow a projected NFW profile
    of concentration c(M200, z) (colossus, Duffy et al. 2008); their r-band
    absolute magnitudes follow a Schechter function, the BCG sits at the centre
    and is brighter in more massive clusters (L_BCG ∝ M200^bcg_mass_slope).
    Magnitudes are today's; at redshift z every cluster galaxy is brighter by
    ``evolution_q`` · z (passive evolution).
    """

    z_range: tuple[float, float] = (0.1, 0.4)
    log_m200_range: tuple[float, float] = Field((14.0, 15.0), description="log10 M200c / M☉, uniform")
    richness_at_1e14: float = Field(22.0, gt=0, description="mean members inside R200 at M200 = 1e14 M☉")
    richness_slope: float = Field(0.8, ge=0, description="N ∝ M200^slope")
    richness_range: tuple[int, int] = (20, 100)
    richness_scatter_dex: float = Field(0.1, ge=0)
    bcg_abs_mag_r: float = Field(-23.0, description="mean BCG absolute r magnitude (today) at bcg_pivot_m200")
    bcg_mass_slope: float = Field(0.26, ge=0, description="L_BCG ∝ M200^slope (Lin & Mohr 2004: 0.26)")
    bcg_pivot_m200: float = Field(3e14, gt=0, description="M200c / M☉ at which the BCG mean is bcg_abs_mag_r")
    bcg_scatter_mag: float = Field(0.3, ge=0)
    mstar_abs_mag_r: float = Field(-21.5, description="Schechter M* of members (r)")
    schechter_alpha: float = Field(-1.0, gt=-2.5, lt=0.5)
    faint_limit_abs_mag_r: float = Field(-19.5, description="faintest member drawn")
    colour_scatter_mag: float = Field(0.05, ge=0)
    evolution_q: float = Field(1.0, ge=0, description="passive evolution of members and BCG, mag per unit z: "
                                                      "M(z) = M(0) − Q z")
    concentration_model: str = "duffy08"

    @model_validator(mode="after")
    def _ranges(self) -> "ClusterParams":
        for key in ("z_range", "log_m200_range", "richness_range"):
            lo, hi = getattr(self, key)
            if not lo < hi:
                raise ValueError(f"{key} must be (low, high) with low < high (got {getattr(self, key)})")
        if self.z_range[0] <= 0:
            raise ValueError(f"z_range must be > 0 (got {self.z_range})")
        return self


class SimulateDetectParams(Section):
    """``simulate_detect``: SDSS-like g, r, i fields with 0–3 clusters, field galaxies, stars, Moffat PSF, sky noise.

    Fields are drawn on a ``native_pixel_arcsec`` grid of ``native_size_px``
    pixels and stored ``bin`` × ``bin`` summed (flux-conserving), as Deep-CEE
    lowered its 2000² SDSS images to 1000² for training.
    """

    n_fields: int = Field(400, ge=4)
    blank_fraction: float = Field(0.25, ge=0, lt=1, description="fields with no cluster (purity)")
    max_clusters: int = Field(3, ge=1, le=10)
    native_pixel_arcsec: float = Field(0.396, gt=0)
    native_size_px: int = Field(1024, ge=64)
    bin: int = Field(8, ge=1, le=32)
    bands: tuple[BandDepth, ...] = Field(default_factory=_sdss_bands, min_length=1)
    psf_fwhm_arcsec: float = Field(1.4, gt=0)
    moffat_beta: float = Field(3.0, gt=1.1)
    field_galaxies_per_arcmin2: float = Field(6.0, ge=0, description="down to r = faint_mag_r")
    stars_per_arcmin2: float = Field(0.6, ge=0)
    faint_mag_r: float = Field(23.0, gt=15)
    cluster: ClusterParams = ClusterParams()
    box_half_kpc: float = Field(250.0, gt=0, description=(
        "a cluster's box half-side, proper kpc (Chan & Stott's optical mean core radius, 250 kpc)"))
    edge_margin_frac: float = Field(0.1, ge=0, lt=0.5, description="cluster centres kept this far from the edges")
    ra0_deg: float = Field(150.0, ge=0, lt=360)
    dec0_deg: float = Field(2.0, gt=-80, lt=80)
    seed: int = 17

    @model_validator(mode="after")
    def _fit(self) -> "SimulateDetectParams":
        if self.native_size_px % self.bin:
            raise ValueError(f"native_size_px ({self.native_size_px}) must be a multiple of bin ({self.bin})")
        if "r" not in {b.name for b in self.bands}:
            raise ValueError("bands must include 'r' (magnitudes are set in r)")
        return self


class CutoutsDetectParams(Section):
    """``cutouts_detect``: fields → the dataset (stretched g, r, i images + centre-heatmap targets + splits)."""

    stretch: Literal["sqrt", "asinh"] = Field("sqrt", description="Deep-CEE's square-root stretch, or asinh")
    asinh_softening: float = Field(3.0, gt=0, description="asinh: a in asinh(x / (a σ))")
    output_stride: int = Field(4, ge=1, description="input pixels per heatmap pixel (= train_detect.net.output_stride)")
    min_sigma_px: float = Field(1.0, gt=0, description="smallest Gaussian σ of a heatmap bump, heatmap pixels")
    target_sigma_kpc: float | None = Field(None, gt=0, description=(
        "σ of a cluster's heatmap bump in proper kpc at its redshift (e.g. a third of the 100 kpc match radius); "
        "null: CenterNet's box rule σ = √(w h)/6"))
    val_frac: float = Field(0.15, gt=0, lt=0.5)
    test_frac: float = Field(0.25, gt=0, lt=0.5)
    groups: int = Field(6, ge=2)
    seed: int = 23


class EvaluateDetectParams(Section):
    """``evaluate_detect``: Chan & Stott's matching and tables."""

    match_kpc: float = Field(100.0, gt=0, description="TP if the centre lies within this proper distance")
    min_score: float = Field(0.02, ge=0, lt=1, description="peaks below this are not detections")
    max_detections: int = Field(20, ge=1, description="per field")
    peak_window_px: int = Field(3, ge=3, description="heatmap peaks: local maxima in this window (odd)")
    nms_z: float = Field(0.1, gt=0, description=(
        "peaks closer than match_kpc at this redshift (the near end of the search range, in arcsec) to a better "
        "one are merged — in evaluate and inject as in the survey catalog"))
    tta: bool = Field(True, description=(
        "test-time augmentation: average each field's output maps over the 8 rotations and flips of the square "
        "(8 predictions a field); recorded on the registered version, so `skysieve catalog` scores the same way"))
    table_thresholds: tuple[float, ...] = Field(tuple(round(0.1 * i, 1) for i in range(11)), min_length=1)
    massive_m200: float = Field(3e14, gt=0, description="recall reported for M200 ≥ this (M☉)")
    n_boot: int = Field(500, ge=50)
    seed: int = 5


class InjectDetectParams(Section):
    """``inject_detect``: injection–recovery completeness vs M200 and z with the registered model."""

    n_fields: int = Field(48, ge=2)
    log_m200_bins: tuple[float, ...] = (14.0, 14.25, 14.5, 14.75, 15.0)
    z_bins: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)
    isolated_fields: int = Field(0, ge=0, description=(
        "fields holding one massive cluster each (M200 ≥ evaluate_detect.massive_m200, log-uniform to the top "
        "of log_m200_bins; z uniform over z_bins): the massive-cluster recall at a real sky's crowding; 0 = off"))
    seed: int = 99


class RegisterDetectParams(Section):
    """``register_detect``: the registered detector's name."""

    model_name: str = "detect-centre-net"
