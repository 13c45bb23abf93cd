"""Params of the simulation stages: ``cmb_spectrum`` and ``simulate_sz``."""

from typing import Literal

from pydantic import Field, model_validator

from skysieve.config._base import Section

__all__ = [
    "BandParams",
    "ClusterSourcesParams",
    "CmbSpectrumParams",
    "CosmologyParams",
    "ComponentsParams",
    "DustParams",
    "GnfwParams",
    "HaloParams",
    "KszParams",
    "PatchParams",
    "PatchesParams",
    "SimulateSzParams",
    "SourcePopulationParams",
    "SurveyParams",
    "TszParams",
]


class CosmologyParams(Section):
    """Flat ΛCDM shared by CAMB (CMB spectrum), colossus (mass function) and astropy (distances).

    Defaults are Planck 2018 (TT,TE,EE+lowE+lensing+BAO), as in colossus' ``planck18``.
    """

    H0: float = Field(67.66, gt=40, lt=100, description="km/s/Mpc")
    Om0: float = Field(0.3111, gt=0.05, lt=1)
    Ob0: float = Field(0.04897, gt=0.001, lt=0.2)
    sigma8: float = Field(0.8102, gt=0.3, lt=1.5)
    ns: float = Field(0.9665, gt=0.8, lt=1.2)
    As: float = Field(2.105e-9, gt=1e-10, lt=1e-8)
    tau: float = Field(0.0561, gt=0, lt=0.3)
    mnu_ev: float = Field(0.06, ge=0, lt=1)
    Tcmb0_k: float = Field(2.7255, gt=2, lt=3)

    @model_validator(mode="after")
    def _baryons(self) -> "CosmologyParams":
        if self.Ob0 >= self.Om0:
            raise ValueError(f"Ob0 must be < Om0 (got {self.Ob0} >= {self.Om0})")
        return self


class CmbSpectrumParams(Section):
    """The ``cmb_spectrum`` stage: CAMB lensed TT spectrum up to ``lmax``."""

    lmax: int = Field(8000, ge=500, le=20000)
    lens_potential_accuracy: int = Field(1, ge=0, le=4)


class PatchParams(Section):
    """A flat-sky CAR patch centred on (ra, dec)."""

    ra_center_deg: float = Field(15.0, ge=0, lt=360)
    dec_center_deg: float = Field(0.0, gt=-80, lt=80)
    width_deg: float = Field(7.5, gt=0, le=40)
    height_deg: float = Field(7.5, gt=0, le=40)
    pixel_arcmin: float = Field(0.25, gt=0, le=5)


class PatchesParams(Section):
    """Several independent sky patches (:mod:`skysieve.sim.patches`).

    Patch k (k = 0 … count − 1) is ``simulate_sz.patch`` moved to RA
    ``ra_center_deg + k · ra_step_deg`` (mod 360) and simulated from the k-th
    child of ``SeedSequence(simulate_sz.seed)`` (spawn key ``(k,)``), so adding
    a patch leaves every other patch bit-identical.
    """

    count: int = Field(4, ge=1, le=256, description="number of independent patches, each a full sky")
    ra_step_deg: float = Field(10.0, gt=0, lt=360, description="RA between neighbouring patch centres")


class BandParams(Section):
    """One observing band: centre frequency, Gaussian beam and white noise."""

    freq_ghz: float = Field(gt=0, lt=1000)
    beam_fwhm_arcmin: float = Field(gt=0, lt=30)
    noise_uk_arcmin: float = Field(ge=0, lt=1000)


def _default_bands() -> tuple[BandParams, ...]:
    # SPT-3G: noise from DeepSZ section 1.1; beams are the SPT-3G FWHMs.
    return (
        BandParams(freq_ghz=90.0, beam_fwhm_arcmin=1.7, noise_uk_arcmin=2.8),
        BandParams(freq_ghz=148.0, beam_fwhm_arcmin=1.2, noise_uk_arcmin=2.6),
        BandParams(freq_ghz=219.0, beam_fwhm_arcmin=1.1, noise_uk_arcmin=6.6),
    )


class ComponentsParams(Section):
    """Switches for every sky component (all on by default)."""

    cmb: bool = True
    tsz: bool = True
    ksz: bool = True
    radio: bool = True
    ir: bool = True
    dust: bool = True
    noise: bool = True
    beam: bool = True


class HaloParams(Section):
    """Halo population drawn from a mass function over the patch light cone."""

    mass_function: Literal["tinker08"] = "tinker08"
    mdef: Literal["500c"] = "500c"
    m_min_msun: float = Field(5e13, gt=1e12, lt=1e16)
    m_max_msun: float = Field(5e15, gt=1e13, lt=1e17)
    z_min: float = Field(0.05, gt=0, lt=5)
    z_max: float = Field(2.0, gt=0, le=6)
    n_z: int = Field(60, ge=5, le=1000, description="redshift shells for the integral")
    concentration_model: Literal["diemer19", "duffy08", "bhattacharya13", "child18", "ishiyama21"] = Field(
        "diemer19", description="colossus c(M) model used to convert M500c to Mvir (NFW profile)")

    @model_validator(mode="after")
    def _ranges(self) -> "HaloParams":
        if self.m_max_msun <= self.m_min_msun:
            raise ValueError(f"m_max_msun must exceed m_min_msun (got {self.m_max_msun:g} <= {self.m_min_msun:g})")
        if self.z_max <= self.z_min:
            raise ValueError(f"z_max must exceed z_min (got {self.z_max} <= {self.z_min})")
        return self


class GnfwParams(Section):
    """Arnaud et al. (2010) universal (GNFW) pressure profile and the haloes' ellipticity (``tsz.profile: gnfw``).

    P(x) / P500 = P0 / ((c500 x)^gamma (1 + (c500 x)^alpha)^((beta - gamma) / alpha)), x = r / R500;
    defaults are A10's universal parameters (their eq. 12, h70 = 1).  See :mod:`skysieve.sim.gnfw`.
    """

    p0: float = Field(8.403, gt=0, description="P0 (h70^-3/2); cancels in the Y-M normalisation")
    c500: float = Field(1.177, gt=0, lt=20)
    gamma: float = Field(0.3081, ge=0, lt=1, description="inner slope (< 1: finite projected centre)")
    alpha: float = Field(1.0510, gt=0, lt=10)
    beta: float = Field(5.4905, gt=3, lt=20, description="outer slope (> 3: finite Y)")
    axis_ratio_min: float = Field(1.0, gt=0.1, le=1,
                                  description="axis ratio q ~ U(axis_ratio_min, 1) per halo; 1: round haloes")


class TszParams(Section):
    """Projected beta model (beta = 1) normalised by an Arnaud et al. (2010) Y-M relation.

    ``profile: gnfw`` paints the A10 GNFW profile (``gnfw``) instead, with the same Y–M normalisation.
    """

    log10_y_norm: float = Field(
        -4.485,
        description="log10 of E(z)^-2/3 D_A^2 Y_5R500 / Mpc^2 at M500 = 3e14 h70^-1 Msun (Arnaud et al. 2010: "
                    "-4.739 for Y_sph(R500), times Y_5R500/Y_500 = 1.796)",
    )
    y_m_slope: float = Field(1.79, gt=0, lt=4)
    scatter_dex: float = Field(0.075, ge=0, lt=1, description="log-normal scatter of Y at fixed M (dex)")
    rc_over_r500: float = Field(0.2, gt=0, le=2, description="beta-model core radius in units of R500")
    truncate_r500: float = Field(5.0, gt=1, le=20, description="profile truncation in units of R500")
    profile: Literal["beta", "gnfw"] = Field("beta", description="beta: the beta model above; gnfw: A10 profile")
    gnfw: GnfwParams = GnfwParams()
    point_below_msun: float = Field(
        0.0, ge=0, lt=1e16,
        description="haloes with M500c below this and theta500 below point_theta500_max_arcmin add their Y "
                    "(tSZ and kSZ) to one pixel instead of a profile (an unresolved background, cheap); "
                    "0: every halo painted as a profile")
    point_theta500_max_arcmin: float = Field(1.0, gt=0, description="only haloes smaller than this become points")


class KszParams(Section):
    """Line-of-sight peculiar velocities, Gaussian with this dispersion."""

    velocity_dispersion_kms: float = Field(300.0, ge=0, lt=3000)


class SourcePopulationParams(Section):
    """Power-law differential counts dN/dS = A (S/S0)^-alpha per steradian at ``ref_freq_ghz``.

    ``spectral_index`` is the flux index: S(nu) = S_ref (nu / nu_ref)^spectral_index.
    """

    counts_norm_per_sr_per_mjy: float = Field(gt=0)
    counts_slope: float = Field(gt=1, lt=4)
    pivot_mjy: float = Field(1.0, gt=0)
    s_min_mjy: float = Field(gt=0)
    s_max_mjy: float = Field(gt=0)
    ref_freq_ghz: float = Field(148.0, gt=0)
    spectral_index: float
    spectral_index_scatter: float = Field(0.2, ge=0, lt=2)

    @model_validator(mode="after")
    def _flux_range(self) -> "SourcePopulationParams":
        if self.s_max_mjy <= self.s_min_mjy:
            raise ValueError(f"s_max_mjy must exceed s_min_mjy (got {self.s_max_mjy} <= {self.s_min_mjy})")
        return self


# Calibration (skysieve.sim.sources.poisson_cl, checked in tests/sim/test_sources.py): with these
# defaults the Poisson power of sources fainter than 2 mJy at 148 GHz is D_3000 = 2.7, 8.1, 76 uK^2
# at 90/148/219 GHz (radio 1.7, 0.2, 0.1; IR 1.0, 7.9, 76), close to DeepSZ's 2.7, 8.8, 71.
def _default_radio() -> SourcePopulationParams:
    return SourcePopulationParams(
        counts_norm_per_sr_per_mjy=1.4e4,
        counts_slope=2.1,
        s_min_mjy=0.3,
        s_max_mjy=1000.0,
        spectral_index=-0.7,
    )


def _default_ir() -> SourcePopulationParams:
    return SourcePopulationParams(
        counts_norm_per_sr_per_mjy=4.5e5,
        counts_slope=3.0,
        s_min_mjy=0.3,
        s_max_mjy=200.0,
        spectral_index=3.4,
    )


class DustParams(Section):
    """Galactic dust: a Gaussian field with C_ell ∝ ell^index, modified-blackbody spectrum."""

    amplitude_uk: float = Field(5.0, ge=0, description="rms in µK_CMB at ref_freq_ghz")
    ell_index: float = Field(-2.6, lt=0)
    ref_freq_ghz: float = Field(219.0, gt=0)
    beta: float = Field(1.6, ge=0, lt=4)
    temperature_k: float = Field(19.6, gt=0, lt=100)


class SurveyParams(Section):
    """What makes a simulated patch look like a real survey map; every feature off by default.

    See ``docs/data.md`` ("Survey maps") and :mod:`skysieve.sim.survey`.
    """

    footprint: bool = Field(False, description="NaN outside an irregular observed region")
    footprint_radius_frac: float = Field(0.8, gt=0.1, le=1.2, description="mean radius / half the patch side")
    footprint_roughness: float = Field(0.15, ge=0, lt=0.5, description="rms of the boundary's radial wobble")
    footprint_scale_deg: float = Field(1.0, gt=0, description="correlation length of the wobble")
    depth_rms: float = Field(0.0, ge=0, lt=3, description="rms of ln(weight) across the footprint; 0: uniform")
    depth_scale_deg: float = Field(1.5, gt=0, description="correlation length of the depth variation")
    ell_knee: float = Field(0.0, ge=0, description="scan-direction 1/f noise knee; 0: white noise only")
    alpha_knee: float = Field(3.0, gt=0, lt=8, description="P ∝ 1 + (ell_knee / |ell_x|)^alpha_knee")
    projection: Literal["car", "tan"] = "car"

    @property
    def active(self) -> bool:
        """Whether any feature is switched on."""
        return self.footprint or self.depth_rms > 0 or self.ell_knee > 0 or self.projection != "car"


class ClusterSourcesParams(Section):
    """Point sources in haloes, on top of the field populations; off by default.

    Each halo with M500c >= ``m_min_msun`` holds a Poisson number of sources with mean
    ``n_per_1e14_msun`` x M500c / 1e14 Msun, placed on a projected beta profile (beta = 1, core
    ``rc_over_r500`` R500) truncated at ``r_max_r500`` R500, with fluxes from the power-law counts
    of ``population`` above ``s_min_mjy``.  See :mod:`skysieve.sim.cluster_sources`.
    """

    enabled: bool = False
    population: Literal["radio", "ir"] = "radio"
    n_per_1e14_msun: float = Field(0.5, ge=0, lt=100, description="mean sources per halo per 1e14 Msun of M500c")
    m_min_msun: float = Field(1e14, gt=0, lt=1e16)
    rc_over_r500: float = Field(0.1, gt=0, le=2, description="core radius of the projected distribution")
    r_max_r500: float = Field(1.0, gt=0, le=10, description="truncation radius of the projected distribution")
    s_min_mjy: float = Field(1.0, gt=0, description="faintest flux at the population's ref_freq_ghz")


class SimulateSzParams(Section):
    """The ``simulate_sz`` stage: a multi-band mm-wave sky."""

    seed: int = Field(2021, ge=0)
    patch: PatchParams = PatchParams()
    patches: PatchesParams = PatchesParams()
    bands: tuple[BandParams, ...] = Field(default_factory=_default_bands, min_length=1)
    components: ComponentsParams = ComponentsParams()
    halos: HaloParams = HaloParams()
    tsz: TszParams = TszParams()
    ksz: KszParams = KszParams()
    radio: SourcePopulationParams = Field(default_factory=_default_radio)
    ir: SourcePopulationParams = Field(default_factory=_default_ir)
    dust: DustParams = DustParams()
    survey: SurveyParams = SurveyParams()
    cluster_sources: ClusterSourcesParams = ClusterSourcesParams()

    @model_validator(mode="after")
    def _unique_bands(self) -> "SimulateSzParams":
        freqs = [b.freq_ghz for b in self.bands]
        if len(set(freqs)) != len(freqs):
            raise ValueError(f"bands must have distinct freq_ghz (got {freqs})")
        step, count = self.patches.ra_step_deg, self.patches.count
        if count > 1 and step < self.patch.width_deg:
            raise ValueError(f"patches.ra_step_deg must be >= patch.width_deg so patches do not overlap "
                             f"(got {step} < {self.patch.width_deg})")
        if count * step > 360:
            raise ValueError(f"patches.count × patches.ra_step_deg must fit in 360° of RA (got {count} × {step})")
        return self

