"""Params of the members data stages: ``simulate_members`` and ``cutouts_members``.

The recipe follows Angora et al. (2020, §2, Table 1): 15 CLASH / Frontier
Fields clusters at 0.18 < z < 0.6, HST ACS (7 bands) and WFC3-IR (5 bands)
cutouts of 64×64 px at 0.065″/px, members within |v| ≤ 3000 km/s of the
cluster.  ``docs/members.md`` gives the equations and where the defaults
come from.
"""

from typing import Literal

from pydantic import Field, model_validator

from skysieve.config import Section

__all__ = [
    "BAND_CONFIGS",
    "ClusterSpec",
    "CutoutsMembersParams",
    "FieldParams",
    "MemberPopulationParams",
    "MembersBandParams",
    "SimulateMembersParams",
]

Range = tuple[float, float]

#: The paper's band configurations (§2): ACS (7 optical), ALL (12), mixed (the 5 Frontier Fields bands).
BAND_CONFIGS: dict[str, tuple[str, ...]] = {
    "ACS": ("F435W", "F475W", "F606W", "F625W", "F775W", "F814W", "F850LP"),
    "ALL": ("F435W", "F475W", "F606W", "F625W", "F775W", "F814W", "F850LP",
            "F105W", "F110W", "F125W", "F140W", "F160W"),
    "mixed": ("F435W", "F606W", "F814W", "F105W", "F140W"),
}


def _ordered(name: str, value: Range) -> Range:
    if value[1] < value[0]:
        raise ValueError(f"{name} must be (low, high) with low <= high (got {value})")
    return value


class MembersBandParams(Section):
    """One HST band: its filter curve (astro-sedpy name), zero point, PSF and depth.

    Images are in e⁻/s per pixel: a source of AB magnitude ``m`` gives
    ``10**(-0.4 (m − zero_point_ab))`` e⁻/s.  The sky noise per pixel is
    ``σ_pix = 10**(-0.4 (sb_limit_1sigma − zero_point_ab)) · √A_pix`` with
    ``A_pix`` in arcsec² (``sb_limit_1sigma`` is the 1σ depth in 1 arcsec²);
    the source adds Poisson noise over ``exposure_time_s``.
    """

    name: str = Field(pattern=r"^F[0-9]{3,4}[A-Z]{1,2}$", description="band name, e.g. F814W (a channel name)")
    sedpy_filter: str = Field(pattern=r"^[a-z0-9_]+$", description="filter curve in astro-sedpy, e.g. acs_wfc_f814w")
    zero_point_ab: float = Field(gt=15, lt=35, description="AB magnitude giving 1 e-/s")
    psf_fwhm_arcsec: float = Field(gt=0, lt=2, description="Moffat PSF FWHM")
    moffat_beta: float = Field(2.5, gt=1.1, lt=20)
    sb_limit_1sigma: float = Field(gt=20, lt=35, description="1σ surface-brightness depth in 1 arcsec², AB mag")
    exposure_time_s: float = Field(gt=0)
    missing_fraction: float = Field(0.0, ge=0, lt=1, description="fraction of sources without coverage in the band")


def _hst_bands() -> tuple[MembersBandParams, ...]:
    # ACS/WFC and WFC3/IR AB zero points (STScI), drizzled PSF FWHM and CLASH-like 1σ depths (docs/members.md).
    # IR coverage is smaller than ACS coverage in CLASH: ~25 % of the spectroscopic sources lack an IR band
    # (paper Table 1: ALL keeps 2581 of the 3502 ACS sources).
    rows = (("F435W", "acs_wfc_f435w", 25.66, 0.095, 27.6, 2100, 0.0),
            ("F475W", "acs_wfc_f475w", 26.06, 0.095, 27.9, 2100, 0.0),
            ("F606W", "acs_wfc_f606w", 26.49, 0.095, 28.0, 2000, 0.0),
            ("F625W", "acs_wfc_f625w", 25.91, 0.095, 27.6, 2100, 0.0),
            ("F775W", "acs_wfc_f775w", 25.66, 0.100, 27.4, 2100, 0.0),
            ("F814W", "acs_wfc_f814w", 25.94, 0.100, 27.8, 4100, 0.0),
            ("F850LP", "acs_wfc_f850lp", 24.84, 0.105, 27.0, 4100, 0.0),
            ("F105W", "wfc3_ir_f105w", 26.27, 0.130, 27.6, 2800, 0.12),
            ("F110W", "wfc3_ir_f110w", 26.82, 0.135, 27.9, 2500, 0.25),
            ("F125W", "wfc3_ir_f125w", 26.23, 0.140, 27.5, 2400, 0.12),
            ("F140W", "wfc3_ir_f140w", 26.45, 0.150, 27.6, 2300, 0.12),
            ("F160W", "wfc3_ir_f160w", 25.95, 0.160, 27.4, 5000, 0.12))
    return tuple(MembersBandParams(name=n, sedpy_filter=f, zero_point_ab=zp, psf_fwhm_arcsec=fw, sb_limit_1sigma=sb,
                                   exposure_time_s=t, missing_fraction=miss) for n, f, zp, fw, sb, t, miss in rows)


class ClusterSpec(Section):
    """One cluster of the paper's Table 1: name, centre, redshift and its spectroscopic sample size."""

    name: str = Field(pattern=r"^[A-Za-z0-9_+-]+$")
    ra_deg: float = Field(ge=0, lt=360)
    dec_deg: float = Field(ge=-90, le=90)
    z: float = Field(gt=0.05, lt=1.5)
    n_members: int = Field(ge=1, description="spectroscopic members (Table 1, mixed*/ACS column)")
    n_interlopers: int = Field(ge=1, description="spectroscopic non-members (Table 1)")


def _paper_clusters() -> tuple[ClusterSpec, ...]:
    # Angora et al. (2020) Table 1 (mixed* counts; ACS counts where mixed* has none); centres approximate.
    rows = (("A383", 42.0141, -3.5293, 0.188, 59, 51), ("R2129", 322.4165, 0.0892, 0.234, 47, 124),
            ("A2744", 3.5860, -30.4000, 0.308, 156, 279), ("MS2137", 325.0632, -23.6611, 0.316, 45, 49),
            ("R2248", 342.1832, -44.5309, 0.346, 131, 112), ("M1931", 292.9568, -26.5758, 0.352, 68, 97),
            ("M1115", 168.9663, 1.4986, 0.352, 78, 69), ("A370", 39.9713, -1.5822, 0.375, 224, 311),
            ("M0416", 64.0381, -24.0675, 0.397, 237, 277), ("M1206", 181.5506, -8.8009, 0.439, 172, 216),
            ("M0329", 52.4232, -2.1962, 0.450, 74, 76), ("R1347", 206.8776, -11.7526, 0.451, 56, 107),
            ("M1311", 197.7575, -3.1775, 0.494, 52, 54), ("M1149", 177.3987, 22.3985, 0.542, 141, 237),
            ("M2129", 322.3588, -7.6910, 0.587, 89, 102))
    return tuple(ClusterSpec(name=n, ra_deg=ra, dec_deg=dec, z=z, n_members=m, n_interlopers=i)
                 for n, ra, dec, z, m, i in rows)


class MemberPopulationParams(Section):
    """Cluster members: a red sequence with scatter plus blue (star-forming) members.

    The SED of a galaxy is a mix of the CWW templates along the type axis
    ``t`` (0 = E, 1 = Sbc, 2 = Scd, 3 = Im; :func:`~skysieve.tasks.members.sed.template_sed`).
    Red-sequence members have ``t = max(0, slope·(m − 21) + N(0, scatter))``,
    a tilt of the colour–magnitude relation; blue members ``t ~ U(blue_t_range)``.
    Velocities are Gaussian with ``sigma_v_kms``; projected positions follow
    a cored isothermal surface density ``Σ(R) ∝ (1 + R²/R_c²)^(-1/2)``, truncated at ``r_max_arcsec``.
    """

    blue_fraction: float = Field(0.25, ge=0, le=1, description="the paper's 20–30 % blue members")
    mag_range: Range = Field((18.5, 24.0), description="F814W AB magnitudes (paper: spectroscopic limit ≈ 24)")
    mag_slope: float = Field(0.35, gt=0, lt=2, description="d log N / d m of the magnitude distribution")
    red_sequence_slope: float = Field(0.04, ge=0, lt=1, description="dt/dm of the red sequence")
    red_sequence_scatter: float = Field(0.12, ge=0, lt=2, description="σ of t about the red sequence")
    blue_t_range: Range = (0.8, 3.0)
    sigma_v_kms: float = Field(1000.0, gt=0, lt=3000)
    core_radius_arcsec: float = Field(15.0, gt=0)
    r_max_arcsec: float = Field(90.0, gt=0)
    bulge_fraction_red: Range = (0.5, 0.9)
    bulge_fraction_blue: Range = (0.0, 0.3)

    @model_validator(mode="after")
    def _ranges(self) -> "MemberPopulationParams":
        for name in ("mag_range", "blue_t_range", "bulge_fraction_red", "bulge_fraction_blue"):
            _ordered(name, getattr(self, name))
        return self


class FieldParams(Section):
    """Interlopers: field galaxies in front of and behind the cluster.

    Redshifts follow ``p(z) ∝ z² exp(−(z/z0)^1.5)`` on ``z_range``, except a
    ``near_fraction`` drawn within ``near_dv_kms`` (but beyond the membership
    cut) of the cluster — the infall region the paper's z windows border.
    Types ``t ~ U(0, 3)`` with a ``red_fraction`` on the red sequence.
    Positions are uniform within ``r_max_arcsec``.
    """

    z0: float = Field(0.75, gt=0, description="p(z) scale: spectroscopic non-members are mostly background")
    z_range: Range = (0.05, 1.6)
    near_fraction: float = Field(0.12, ge=0, le=1)
    near_dv_kms: Range = (3000.0, 12000.0)
    red_fraction: float = Field(0.15, ge=0, le=1, description="field galaxies on a red sequence (mostly star-forming)")
    mag_range: Range = (18.5, 24.0)
    mag_slope: float = Field(0.45, gt=0, lt=2)

    @model_validator(mode="after")
    def _ranges(self) -> "FieldParams":
        for name in ("z_range", "near_dv_kms", "mag_range"):
            _ordered(name, getattr(self, name))
        return self


class SimulateMembersParams(Section):
    """``simulate_members``: spectroscopic sources of every cluster, rendered in every band.

    ``sample_scale`` multiplies the paper's per-cluster counts (Table 1) so
    the default pipeline fits two CPU cores; the member fraction of each
    cluster is the paper's.  The spectroscopic redshift is the true one plus
    ``N(0, spec_error_kms (1 + z) / c)``; a source is a member when
    ``c |z_spec − z_cl| / (1 + z_cl) ≤ velocity_cut_kms``.
    """

    seed: int = Field(2020, ge=0)
    size_px: int = Field(64, ge=16, le=256)
    pixel_scale_arcsec: float = Field(0.065, gt=0, lt=1)
    bands: tuple[MembersBandParams, ...] = Field(default_factory=_hst_bands, min_length=1)
    reference_band: str = "F814W"
    clusters: tuple[ClusterSpec, ...] = Field(default_factory=_paper_clusters, min_length=2)
    sample_scale: float = Field(0.3, gt=0, le=10, description="× the paper's per-cluster counts")
    velocity_cut_kms: float = Field(3000.0, gt=0, description="membership: |v| ≤ this (paper §2)")
    spec_error_kms: float = Field(150.0, ge=0, description="σ of the spectroscopic redshift, km/s (× (1 + z))")
    members: MemberPopulationParams = MemberPopulationParams()
    field: FieldParams = FieldParams()
    neighbours_per_cutout: float = Field(0.6, ge=0, le=10, description="Poisson mean of other galaxies in a cutout")
    bcg_mag: float = Field(17.5, gt=10, lt=25, description="F814W of the BCG whose halo makes the ICL gradient")
    icl_re_arcsec: float = Field(40.0, gt=0, description="effective radius of the BCG + ICL de Vaucouleurs halo")
    knots_range: tuple[int, int] = Field((3, 12), description="star-forming knots in a blue disk")
    knot_flux_fraction: float = Field(0.15, ge=0, lt=1, description="of the disk light in knots (blue galaxies)")

    @model_validator(mode="after")
    def _consistent(self) -> "SimulateMembersParams":
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError(f"bands has repeated names: {names}")
        if self.reference_band not in names:
            raise ValueError(f"reference_band {self.reference_band!r} is not one of the bands {names}")
        clusters = [c.name for c in self.clusters]
        if len(set(clusters)) != len(clusters):
            raise ValueError(f"clusters has repeated names: {clusters}")
        if self.knots_range[1] < self.knots_range[0]:
            raise ValueError(f"knots_range must be (low, high) with low <= high (got {self.knots_range})")
        return self


class CutoutsMembersParams(Section):
    """``cutouts_members``: the band configuration, and the validation / test hold-outs.

    ``band_config`` picks one of :data:`BAND_CONFIGS` (``ACS``, ``ALL``,
    ``mixed``); sources without coverage in any of its bands are dropped and
    counted (paper §2: "rejection of missing data").  ``val_frac`` is the
    paper's 10 % validation hold-out (early stopping, the plateau schedule,
    thresholds); ``test_frac`` a blind test split.  Both are stratified by
    class within every cluster.  With ``leave_out_clusters`` those clusters
    go wholly to ``test`` (the paper's EXP2: unseen clusters).
    """

    band_config: Literal["ACS", "ALL", "mixed"] = "mixed"
    val_frac: float = Field(0.1, gt=0, lt=0.5)
    test_frac: float = Field(0.2, gt=0, lt=0.5)
    leave_out_clusters: tuple[str, ...] = ()
    seed: int = Field(7, ge=0)

    @property
    def channels(self) -> tuple[str, ...]:
        """The bands of ``band_config``, in wavelength order."""
        return BAND_CONFIGS[self.band_config]
