"""Params of the lens data stages: ``simulate_lens`` and ``cutouts_lens``.

The recipe follows Angora et al. (2023, §3.1, Table 2); ``docs/lens.md`` gives
the equations and where the defaults come from.  ``validate_lens`` reuses
:class:`~skysieve.config.ValidateParams`.
"""

from typing import Literal

from pydantic import Field, model_validator

from skysieve.config import Section

__all__ = [
    "BlueNeighbourParams",
    "ClusterParams",
    "CutoutsLensParams",
    "EdgeOnParams",
    "ImagingBandParams",
    "LensSplitParams",
    "MemberParams",
    "NegativeParams",
    "NeighbourParams",
    "SedParams",
    "SimulateLensParams",
    "SourceParams",
    "SpiralParams",
]

Range = tuple[float, float]


def _check_ranges(section: Section, *names: str) -> None:
    for name in names:
        lo, hi = getattr(section, name)
        if hi < lo:
            raise ValueError(f"{name} must be (low, high) with low <= high (got ({lo}, {hi}))")


class ImagingBandParams(Section):
    """One HST/ACS-like band: photometric zero point, PSF and noise.

    Images are in electrons per second per pixel; a source of AB magnitude
    ``m`` gives ``10**(-0.4 (m - zero_point_ab))`` e⁻/s in total.
    ``wavelength_*_nm`` approximate the filter as a top hat for the SED colours.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="band name, e.g. F814W (a channel name)")
    zero_point_ab: float = Field(gt=15, lt=35, description="AB magnitude giving 1 e-/s")
    wavelength_min_nm: float = Field(gt=50, lt=5000)
    wavelength_max_nm: float = Field(gt=50, lt=5000)
    psf: Literal["gaussian", "moffat"] = "moffat"
    psf_fwhm_arcsec: float = Field(gt=0, lt=2)
    moffat_beta: float = Field(2.5, gt=1.1, lt=20, description="Moffat index (only for psf = moffat)")
    exposure_time_s: float = Field(gt=0)
    sky_mag_arcsec2: float = Field(gt=15, lt=30, description="sky surface brightness, AB mag/arcsec²")
    read_noise_e: float = Field(ge=0, lt=100, description="read noise per exposure, e-")
    n_exposures: int = Field(1, ge=1, le=1000)

    @model_validator(mode="after")
    def _wavelengths(self) -> "ImagingBandParams":
        if self.wavelength_max_nm <= self.wavelength_min_nm:
            raise ValueError(f"wavelength_max_nm must exceed wavelength_min_nm (got {self.wavelength_max_nm} <= "
                             f"{self.wavelength_min_nm})")
        return self


def _acs_bands() -> tuple[ImagingBandParams, ...]:
    # ACS/WFC AB zero points (e-/s), drizzled-PSF widths and CLASH-like depths; see docs/lens.md.
    return (
        ImagingBandParams(name="F435W", zero_point_ab=25.66, wavelength_min_nm=360, wavelength_max_nm=486,
                          psf_fwhm_arcsec=0.10, exposure_time_s=2100, sky_mag_arcsec2=23.0, read_noise_e=4.0,
                          n_exposures=4),
        ImagingBandParams(name="F606W", zero_point_ab=26.49, wavelength_min_nm=470, wavelength_max_nm=720,
                          psf_fwhm_arcsec=0.10, exposure_time_s=2000, sky_mag_arcsec2=22.4, read_noise_e=4.0,
                          n_exposures=4),
        ImagingBandParams(name="F814W", zero_point_ab=25.94, wavelength_min_nm=690, wavelength_max_nm=960,
                          psf_fwhm_arcsec=0.11, exposure_time_s=4100, sky_mag_arcsec2=22.0, read_noise_e=4.0,
                          n_exposures=4),
    )


class ClusterParams(Section):
    """A host cluster: centre, redshift, an Einstein radius standing in for its mass, depth and weight.

    ``exposure_scale`` multiplies every band's exposure time and number of
    exposures for cutouts of this cluster (the Frontier Fields are ≈ 5×
    deeper than CLASH); ``n_members`` weights how often the cluster is drawn
    (the paper's spectroscopic member counts, Table 1).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_+-]+$")
    ra_deg: float = Field(ge=0, lt=360)
    dec_deg: float = Field(ge=-90, le=90)
    z: float = Field(gt=0.01, lt=2)
    theta_e_arcsec: float = Field(gt=0, lt=200, description="cluster (SIS) Einstein radius for a source at z = 2")
    exposure_scale: float = Field(1.0, gt=0, le=100, description="depth: × every band's exposure time (HFF ≈ 5)")
    n_members: int = Field(1, ge=1, description="the cluster is drawn ∝ n_members (paper Table 1, N_CLM)")


def _paper_clusters() -> tuple[ClusterParams, ...]:
    # Angora et al. (2023) Table 1 (N_CLM, survey); centres and Einstein radii are approximate (docs/lens.md).
    # R2248 (Abell S1063) and M0416 are Frontier Fields clusters, ≈ 5× the CLASH exposure.
    rows = (("R2129", 322.4165, 0.0892, 0.234, 12.0, 1.0, 70), ("R2248", 342.1832, -44.5309, 0.346, 30.0, 5.0, 222),
            ("M1931", 292.9568, -26.5758, 0.352, 22.0, 1.0, 120), ("M0416", 64.0381, -24.0675, 0.397, 28.0, 5.0, 193),
            ("M1206", 181.5506, -8.8009, 0.439, 26.0, 1.0, 258), ("M0329", 52.4232, -2.1962, 0.450, 18.0, 1.0, 106),
            ("R1347", 206.8776, -11.7526, 0.451, 32.0, 1.0, 114), ("M2129", 322.3588, -7.6910, 0.587, 20.0, 1.0, 138))
    return tuple(ClusterParams(name=n, ra_deg=ra, dec_deg=dec, z=z, theta_e_arcsec=te, exposure_scale=depth,
                               n_members=nm) for n, ra, dec, z, te, depth, nm in rows)


class SedParams(Section):
    """A broken power-law rest-frame SED with a 400 nm break and IGM absorption.

    ``f_ν ∝ (λ/400 nm)**red_slope`` above 400 nm, ``(λ/400 nm)**blue_slope /
    break_ratio`` from 121.6 to 400 nm, Lyman-α forest attenuation between 91.2
    and 121.6 nm, nothing below; both slopes scatter per galaxy by
    ``slope_scatter``.
    """

    blue_slope: float = Field(ge=-5, le=6)
    red_slope: float = Field(ge=-5, le=6)
    break_ratio: float = Field(ge=1, le=10)
    slope_scatter: float = Field(0.1, ge=0, le=2)


def _passive_sed() -> SedParams:
    return SedParams(blue_slope=2.5, red_slope=1.8, break_ratio=1.9, slope_scatter=0.1)


def _star_forming_sed() -> SedParams:
    return SedParams(blue_slope=0.2, red_slope=0.6, break_ratio=1.15, slope_scatter=0.3)


class MemberParams(Section):
    """Cluster members: light, red-sequence colours and (for lenses) SIE mass.

    Magnitudes are in the reference band at ``z = 0.4`` and move with the
    distance modulus to each cluster.  The Einstein radius follows the σ–L
    relation of Angora et al. (2023, end of §3.1),
    ``θ_E = 4π (σ_ref/c)² (D_ls/D_s) 10**(0.8 α (m_ref − m))``.
    """

    m_star_mag_ab: float = Field(19.8, gt=10, lt=30, description="Schechter m* (reference band, z = 0.4)")
    lf_alpha: float = Field(-1.0, gt=-2.5, lt=1)
    mag_range: Range = Field((17.5, 24.0), description="member magnitudes drawn in (bright, faint) at z = 0.4")
    sigma_ref_kms: float = Field(380.0, gt=10, lt=1500, description="σ_ref of the σ–L relation")
    sigma_l_alpha: float = Field(0.28, gt=0, lt=1, description="slope α of σ ∝ L^α")
    m_ref_mag_ab: float = Field(18.0, gt=10, lt=30, description="reference magnitude m_ref (z = 0.4)")
    theta_e_range_arcsec: Range = Field((0.2, 3.5), description="lenses kept in (min, max), drawn ∝ θ_E")
    re_kpc_at_mref: float = Field(4.0, gt=0, lt=50, description="light effective radius at m_ref")
    re_luminosity_slope: float = Field(0.45, ge=0, lt=2, description="r_e ∝ L**slope")
    re_scatter_dex: float = Field(0.15, ge=0, lt=1)
    n_sersic_range: Range = (3.0, 5.0)
    q_range: Range = (0.5, 1.0)
    mass_q_scatter: float = Field(0.1, ge=0, lt=1, description="mass axis ratio = light q + N(0, this)")
    mass_q_min: float = Field(0.4, gt=0.05, le=1)
    mass_pa_scatter_deg: float = Field(10.0, ge=0, le=90)
    velocity_dispersion_kms: float = Field(1000.0, ge=0, lt=5000, description="members' line-of-sight spread")
    sed: SedParams = Field(default_factory=_passive_sed)

    @model_validator(mode="after")
    def _ranges(self) -> "MemberParams":
        _check_ranges(self, "mag_range", "theta_e_range_arcsec", "n_sersic_range", "q_range")
        if self.theta_e_range_arcsec[0] <= 0:
            raise ValueError(f"theta_e_range_arcsec must be positive (got {self.theta_e_range_arcsec})")
        if not 0 < self.q_range[0] <= self.q_range[1] <= 1:
            raise ValueError(f"q_range must lie in (0, 1] (got {self.q_range})")
        return self


class SourceParams(Section):
    """Background sources, as in Angora et al. (2023) Table 2.

    Reference-band magnitudes follow broken power-law number counts
    ``dN/dm ∝ 10**(slope m)``; redshifts follow ``p(z|Δm) ∝ z² exp(−z/z0)``
    (``exp``) or ``z² exp(−(z/z0)**0.5)`` (``sqrt``) per magnitude bin; the
    effective radius is ``re_kpc_low_z`` for z ≤ 1 and ``B (1+z)**β`` above,
    plus a uniform offset in ``re_scatter_sigmas × re_scatter_kpc``, times
    ``(L/L_pivot)**re_luminosity_slope`` for sources fainter than the pivot.
    """

    mag_range: Range = Field((22.0, 29.0), description="reference-band magnitudes (bright, faint)")
    counts_break_mag: float = Field(25.0, description="magnitude where the counts slope changes")
    counts_slope_bright: float = Field(0.30, ge=0, lt=1, description="d log10 N / dm brighter than the break")
    counts_slope_faint: float = Field(0.15, ge=0, lt=1, description="d log10 N / dm fainter than the break")
    z_bin_edges_mag: tuple[float, ...] = (22.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0)
    z0: tuple[float, ...] = (0.30, 0.040, 0.045, 0.050, 0.055, 0.060)
    z_forms: tuple[Literal["exp", "sqrt"], ...] = ("exp", "sqrt", "sqrt", "sqrt", "sqrt", "sqrt")
    z_max: float = Field(7.0, gt=0.5, le=10)
    dz_min: float = Field(0.4, ge=0, lt=5, description="z_src >= z_lens + dz_min")
    re_kpc_low_z: float = Field(2.54, gt=0, lt=50)
    re_b_kpc: float = Field(6.9, gt=0, lt=100)
    re_beta: float = Field(-1.2, gt=-5, lt=5)
    re_scatter_kpc: float = Field(0.25, ge=0, lt=10)
    re_scatter_sigmas: Range = (-1.5, 1.0)
    re_min_kpc: float = Field(0.1, gt=0)
    re_luminosity_slope: float = Field(0.27, ge=0, lt=2, description="Shibuya et al. (2015) r_e ∝ L^α below the "
                                                                     "pivot; 0 = the paper's size–z relation alone")
    re_pivot_abs_mag: float = Field(-19.7, gt=-30, lt=0, description="absolute magnitude (rest UV) below whose "
                                                                     "luminosity sources shrink as L^α")
    n_sersic_range: Range = (1.0, 2.0)
    q_range: Range = (0.2, 1.0)
    caustic_buffer_re: float = Field(0.5, ge=0, lt=10, description="source centres within this × r_e of the caustic")
    sed: SedParams = Field(default_factory=_star_forming_sed)

    @model_validator(mode="after")
    def _checks(self) -> "SourceParams":
        _check_ranges(self, "mag_range", "re_scatter_sigmas", "n_sersic_range", "q_range")
        edges = self.z_bin_edges_mag
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f"z_bin_edges_mag must be increasing with >= 2 edges (got {edges})")
        if not len(self.z0) == len(self.z_forms) == len(edges) - 1:
            raise ValueError(f"z0 and z_forms need one entry per magnitude bin ({len(edges) - 1}); got "
                             f"{len(self.z0)} and {len(self.z_forms)}")
        if any(z <= 0 for z in self.z0):
            raise ValueError(f"z0 must be positive (got {self.z0})")
        if self.mag_range[0] < edges[0] or self.mag_range[1] > edges[-1]:
            raise ValueError(f"mag_range {self.mag_range} must lie within z_bin_edges_mag ({edges[0]}, {edges[-1]})")
        if not 0 < self.q_range[0] <= self.q_range[1] <= 1:
            raise ValueError(f"q_range must lie in (0, 1] (got {self.q_range})")
        return self


class NeighbourParams(Section):
    """Galaxies around every cutout's central one: red members and a few blue field galaxies."""

    mean_count: float = Field(1.0, ge=0, lt=50, description="Poisson mean per cutout")
    min_separation_arcsec: float = Field(0.7, ge=0)
    margin_arcsec: float = Field(0.5, ge=0, description="neighbours may sit this far outside the cutout")
    blue_fraction: float = Field(0.3, ge=0, le=1)
    blue_mag_range: Range = (23.0, 27.0)
    blue_z_range: Range = (0.3, 3.0)
    blue_re_arcsec_range: Range = (0.05, 0.3)

    @model_validator(mode="after")
    def _ranges(self) -> "NeighbourParams":
        _check_ranges(self, "blue_mag_range", "blue_z_range", "blue_re_arcsec_range")
        return self


class BlueNeighbourParams(Section):
    """Hard negative: a member with compact blue galaxies around it, where lensed images would be."""

    count_range: tuple[int, int] = (1, 3)
    separation_arcsec_range: Range = (0.4, 1.6)
    mag_range: Range = (23.0, 27.0)
    re_arcsec_range: Range = (0.04, 0.2)
    z_range: Range = (0.5, 3.0)

    @model_validator(mode="after")
    def _ranges(self) -> "BlueNeighbourParams":
        _check_ranges(self, "count_range", "separation_arcsec_range", "mag_range", "re_arcsec_range", "z_range")
        if self.count_range[0] < 1:
            raise ValueError(f"count_range must start at >= 1 (got {self.count_range})")
        return self


class SpiralParams(Section):
    """Hard negative: a late-type member, red bulge plus blue disc with logarithmic arms."""

    bulge_fraction_range: Range = (0.05, 0.4)
    disc_q_range: Range = (0.25, 1.0)
    disc_re_scale_range: Range = Field((1.0, 2.0), description="disc r_e / member size-relation r_e")
    arms: int = Field(2, ge=1, le=6)
    pitch_deg_range: Range = (10.0, 30.0)
    arm_amplitude_range: Range = Field((0.3, 0.9), description="fractional modulation of the disc, <= 1")

    @model_validator(mode="after")
    def _ranges(self) -> "SpiralParams":
        _check_ranges(self, "bulge_fraction_range", "disc_q_range", "disc_re_scale_range", "pitch_deg_range",
                      "arm_amplitude_range")
        if self.arm_amplitude_range[0] < 0 or self.arm_amplitude_range[1] > 1:
            raise ValueError(f"arm_amplitude_range must lie in [0, 1] (got {self.arm_amplitude_range})")
        return self


class EdgeOnParams(Section):
    """Hard negative: a member with a thin, blue edge-on spiral beside it, tangential like an arc.

    The spiral is a thin exponential disc with a small red bulge at its centre,
    nearly straight (a warp of curvature ≤ ``bend_per_arcsec_range[1]``; an arc
    of radius R has c = 1/2R, so c ≤ 0.05″⁻¹ bends a 1″ half-length by
    0.05″ where a ring of θ_E = 1″ bends it by 0.5″), and at least ``min_snr``
    bright (matched-filter SNR over the bands, as ``arc_snr``): a disc below
    it is brightened to it.  ``re_arcsec_range`` is the circularised r_e
    (lenstronomy's ``R_sersic``): the half-light semi-major axis is r_e/√q,
    0.2–1.2″ for the defaults.
    """

    q_range: Range = (0.06, 0.2)
    re_arcsec_range: Range = (0.08, 0.3)
    separation_arcsec_range: Range = (0.5, 1.7)
    bend_per_arcsec_range: Range = Field((0.0, 0.05), description="curvature c of y' = c x'² toward the member "
                                                                  "(a warp; 1/2R for an arc of radius R)")
    mag_range: Range = (21.5, 25.5)
    z_range: Range = (0.2, 1.5)
    bulge_fraction_range: Range = Field((0.1, 0.3), description="share of the spiral's light in its red n = 4 "
                                                                "bulge (r_e = 0.25 disc r_e)")
    min_snr: float = Field(10.0, ge=0, description="spirals fainter than this matched-filter SNR are brightened "
                                                   "to it (0: off)")

    @model_validator(mode="after")
    def _ranges(self) -> "EdgeOnParams":
        _check_ranges(self, "q_range", "re_arcsec_range", "separation_arcsec_range", "bend_per_arcsec_range",
                      "mag_range", "z_range", "bulge_fraction_range")
        if not (0 <= self.bulge_fraction_range[0] and self.bulge_fraction_range[1] < 1):
            raise ValueError(f"bulge_fraction_range must lie in [0, 1) (got {self.bulge_fraction_range})")
        return self


class NegativeParams(Section):
    """The negative class: plain members and hard negatives, as fractions of the negatives."""

    member: float = Field(0.55, ge=0, le=1)
    blue_neighbour: float = Field(0.15, ge=0, le=1)
    spiral: float = Field(0.15, ge=0, le=1)
    edge_on: float = Field(0.15, ge=0, le=1)
    twin_fraction: float = Field(0.5, ge=0, le=1, description="plain-member negatives that are a lens without "
                                                              "its source (same group as the lens)")
    twin_min_arc_snr: float = Field(10.0, ge=0, description="a lens whose arc SNR is below this gets no twin (the "
                                                            "same image up to noise); a plain member takes its place")
    member_selection: Literal["lens_like", "luminosity_function"] = Field(
        "lens_like", description="members drawn like lenses (∝ θ_E) or straight from the luminosity function")
    blue_neighbours: BlueNeighbourParams = BlueNeighbourParams()
    spirals: SpiralParams = SpiralParams()
    edge_on_discs: EdgeOnParams = EdgeOnParams()

    @model_validator(mode="after")
    def _fractions(self) -> "NegativeParams":
        total = self.member + self.blue_neighbour + self.spiral + self.edge_on
        if abs(total - 1) > 1e-6:
            raise ValueError(f"member + blue_neighbour + spiral + edge_on must sum to 1 (got {total:g})")
        return self


class SimulateLensParams(Section):
    """The ``simulate_lens`` stage: three-band HST-like stamps of cluster members, with and without lenses."""

    seed: int = Field(2023, ge=0)
    n_cutouts: int = Field(4500, ge=1, le=10_000_000)
    positive_to_negative: float = Field(2.0, gt=0, le=100, description="lenses per negative (paper: ~2)")
    size_px: int = Field(80, ge=8, le=1024, description="4.8″ at 0.06″: holds the whole ring for θ_E,eff ≤ 2.4″")
    pixel_arcsec: float = Field(0.06, gt=0.001, lt=1, description="HFF/CLASH drizzle scale (paper: 0.03 at 128 px)")
    supersampling: int = Field(4, ge=1, le=16, description="sub-pixels per pixel side for ray tracing")
    bands: tuple[ImagingBandParams, ...] = Field(default_factory=_acs_bands, min_length=1)
    reference_band: str = Field("F814W", description="band of the luminosity function and source counts")
    colour_bands: tuple[str, str] = Field(("F606W", "F814W"), description="lens_colour = m[0] - m[1]")
    noise: bool = Field(True, description="sky, Poisson and read noise (off only for tests)")
    clusters: tuple[ClusterParams, ...] = Field(default_factory=_paper_clusters, min_length=1)
    cluster_r_min_theta_e: float = Field(2.5, gt=1, lt=100, description="members at R >= this × cluster θ_E")
    cluster_r_max_arcsec: float = Field(100.0, gt=0, lt=3600)
    members: MemberParams = MemberParams()
    sources: SourceParams = SourceParams()
    neighbours: NeighbourParams = NeighbourParams()
    negatives: NegativeParams = NegativeParams()
    max_attempts: int = Field(200, ge=1, le=100_000, description="lens systems tried per positive")
    source_position_tries: int = Field(20, ge=1, le=10_000, description="source positions tried per lens system")

    @model_validator(mode="after")
    def _bands(self) -> "SimulateLensParams":
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError(f"band names must be unique (got {names})")
        for key, value in (("reference_band", self.reference_band), ("colour_bands", self.colour_bands[0]),
                           ("colour_bands", self.colour_bands[1])):
            if value not in names:
                raise ValueError(f"{key} {value!r} is not one of the bands {names}")
        return self

    def band_index(self, name: str) -> int:
        """Position of band ``name`` in :attr:`bands` (the channel order)."""
        return [b.name for b in self.bands].index(name)


class LensSplitParams(Section):
    """Validation and test hold-outs, as fractions of each class, assigned by group."""

    val_frac: float = Field(0.1, ge=0, lt=1)
    test_frac: float = Field(0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _sum(self) -> "LensSplitParams":
        if self.val_frac + self.test_frac >= 1:
            raise ValueError(f"val_frac + test_frac must be < 1 (got {self.val_frac + self.test_frac})")
        return self


class CutoutsLensParams(Section):
    """The ``cutouts_lens`` stage: pick channels and assign stratified, grouped splits."""

    seed: int = Field(6, ge=0)
    channels: tuple[str, ...] | None = Field(None, description="bands to keep, in this order (default: all)")
    split: LensSplitParams = LensSplitParams()
