"""Galaxy populations of the lens simulation (internal).

Distances, the members' luminosity function and σ–L Einstein radius, the
source number counts, p(z | m) and size–redshift relation of Angora et al.
(2023, §3.1 and Table 2), and broken power-law SEDs for colours.
"""

import functools
from dataclasses import dataclass

import numpy as np

from skysieve.config import CosmologyParams
from skysieve.tasks.lens.params import ImagingBandParams, MemberParams, SedParams, SourceParams

__all__ = [
    "Distances",
    "distances",
    "member_magnitude_shift",
    "redshift_pdf",
    "sample_from_pdf",
    "sample_member_magnitudes",
    "sample_source_magnitudes",
    "sample_source_redshift",
    "sed_magnitudes",
    "source_re_kpc",
    "theta_e_sigma_l",
]

C_KMS = 299_792.458
RAD_TO_ARCSEC = 180.0 / np.pi * 3600.0
Z_REF_MEMBERS = 0.4  # members' magnitudes in params are quoted at this redshift
_LYA_NM, _LYLIM_NM, _BREAK_NM = 121.6, 91.2, 400.0


@dataclass(frozen=True)
class Distances:
    """Flat-ΛCDM distances by interpolation in a comoving-distance table.

    Attributes
    ----------
    z : ndarray of shape (n,)
        Redshift grid, from 0.
    dc_mpc : ndarray of shape (n,)
        Comoving distance at ``z`` in Mpc.
    """

    z: np.ndarray
    dc_mpc: np.ndarray

    def comoving_mpc(self, z):
        return np.interp(z, self.z, self.dc_mpc)

    def angular_mpc(self, z):
        """Angular-diameter distance D_A(z) = D_C(z) / (1 + z), Mpc."""
        return self.comoving_mpc(z) / (1.0 + np.asarray(z, dtype=float))

    def angular_between_mpc(self, z1, z2):
        """D_A(z1, z2) = (D_C(z2) − D_C(z1)) / (1 + z2) in a flat universe, Mpc."""
        return (self.comoving_mpc(z2) - self.comoving_mpc(z1)) / (1.0 + np.asarray(z2, dtype=float))

    def distance_modulus(self, z):
        """5 log10(D_L / 10 pc) with D_L = (1 + z) D_C."""
        dl_pc = (1.0 + np.asarray(z, dtype=float)) * self.comoving_mpc(z) * 1e6
        return 5.0 * np.log10(dl_pc / 10.0)

    def kpc_per_arcsec(self, z):
        return self.angular_mpc(z) * 1e3 / RAD_TO_ARCSEC


@functools.lru_cache(maxsize=4)
def distances(cosmo: CosmologyParams, *, z_max: float = 12.0, n: int = 2401) -> Distances:
    """The comoving-distance table of ``cosmo`` (astropy, once per process)."""
    import astropy.units as u

    from skysieve.sim.cosmo import astropy_cosmology

    z = np.linspace(0.0, z_max, n)
    dc = astropy_cosmology(cosmo).comoving_distance(z).to_value(u.Mpc)
    return Distances(z, np.asarray(dc, dtype=float))


def sample_from_pdf(rng: np.random.Generator, x: np.ndarray, pdf: np.ndarray, size=None):
    """Draw from a tabulated density by inverting its trapezoid CDF.

    Parameters
    ----------
    rng : numpy.random.Generator
    x : ndarray of shape (n,)
        Increasing abscissae.
    pdf : ndarray of shape (n,)
        Non-negative density (need not be normalised), not all zero.
    """
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(x))])
    if not cdf[-1] > 0:
        raise ValueError("density is zero on the whole range")
    return np.interp(rng.uniform(0.0, cdf[-1], size=size), cdf, x)


def member_magnitude_shift(z_lens: float, dist: Distances) -> float:
    """Distance-modulus difference between ``z_lens`` and z = 0.4 (no k-correction), mag."""
    return float(dist.distance_modulus(z_lens) - dist.distance_modulus(Z_REF_MEMBERS))


def sample_member_magnitudes(rng: np.random.Generator, members: MemberParams, *, shift: float, size=None):
    """Reference-band magnitudes from a Schechter luminosity function.

    .. math:: \\phi(m) \\propto 10^{-0.4(\\alpha+1)(m - m^*)} \\exp\\left(-10^{-0.4(m - m^*)}\\right)

    on ``members.mag_range``, all shifted by ``shift`` (the distance modulus
    relative to z = 0.4).
    """
    lo, hi = members.mag_range
    m = np.linspace(lo, hi, 512)
    x = 10.0 ** (-0.4 * (m - members.m_star_mag_ab))
    return sample_from_pdf(rng, m, x ** (members.lf_alpha + 1.0) * np.exp(-x), size=size) + shift


def theta_e_sigma_l(mag, *, z_lens: float, z_src: float, members: MemberParams, dist: Distances):
    """Einstein radius from the σ–L scaling relation (Angora et al. 2023, end of §3.1).

    .. math:: \\theta_E = 4\\pi \\left(\\frac{\\sigma_{\\rm ref}}{c}\\right)^2 \\frac{D_{ls}}{D_s}
              10^{0.8\\,\\alpha\\,(m_{\\rm ref} - m)}

    with ``m_ref`` moved by the distance modulus from z = 0.4 to ``z_lens``.

    Returns
    -------
    float or ndarray
        θ_E in arcsec (0 where z_src <= z_lens).
    """
    m_ref = members.m_ref_mag_ab + member_magnitude_shift(z_lens, dist)
    ratio = np.maximum(dist.angular_between_mpc(z_lens, z_src), 0.0) / dist.angular_mpc(z_src)
    theta = 4.0 * np.pi * (members.sigma_ref_kms / C_KMS) ** 2 * ratio
    return theta * 10.0 ** (0.8 * members.sigma_l_alpha * (m_ref - np.asarray(mag, dtype=float))) * RAD_TO_ARCSEC


def _counts_pdf(m: np.ndarray, sources: SourceParams) -> np.ndarray:
    mb = sources.counts_break_mag
    log_n = np.where(m < mb, sources.counts_slope_bright * (m - mb), sources.counts_slope_faint * (m - mb))
    return 10.0 ** log_n


def sample_source_magnitudes(rng: np.random.Generator, sources: SourceParams, size=None):
    """Reference-band source magnitudes from broken power-law number counts.

    .. math:: \\frac{dN}{dm} \\propto 10^{s\\,(m - m_b)}, \\quad s = s_{\\rm bright}\\ (m < m_b),
              \\ s_{\\rm faint}\\ (m \\ge m_b)

    on ``sources.mag_range`` (the paper's counts reach F814W = 29).
    """
    m = np.linspace(*sources.mag_range, 1024)
    return sample_from_pdf(rng, m, _counts_pdf(m, sources), size=size)


def redshift_pdf(z: np.ndarray, mag: float, sources: SourceParams) -> np.ndarray:
    """p(z | Δm) of the magnitude bin holding ``mag`` (Angora et al. 2023, §3.1), unnormalised.

    .. math:: p(z|\\Delta m) \\propto z^2 e^{-z/z_0}\\ ({\\tt exp}), \\qquad
              z^2 e^{-(z/z_0)^{1/2}}\\ ({\\tt sqrt})
    """
    edges = np.asarray(sources.z_bin_edges_mag)
    k = int(np.clip(np.searchsorted(edges, mag, side="right") - 1, 0, len(edges) - 2))
    x = z / sources.z0[k]
    shape = np.exp(-x) if sources.z_forms[k] == "exp" else np.exp(-np.sqrt(x))
    return z**2 * shape


def sample_source_redshift(rng: np.random.Generator, mag: float, sources: SourceParams, *, z_min: float) -> float:
    """Draw z from p(z | Δm) truncated to [z_min, z_max]."""
    if z_min >= sources.z_max:
        raise ValueError(f"z_min {z_min} >= z_max {sources.z_max}")
    z = np.linspace(z_min, sources.z_max, 1024)
    pdf = redshift_pdf(z, mag, sources)
    if not np.any(pdf > 0):
        pdf = np.ones_like(z)
    return float(sample_from_pdf(rng, z, pdf))


def source_re_kpc(rng: np.random.Generator, z: float, sources: SourceParams, *, mag: float | None = None,
                  dist: Distances | None = None) -> float:
    """Effective radius from the size–redshift relation with its scatter (Angora et al. 2023, Table 2).

    .. math:: R_e = f_L \\times \\begin{cases} 2.54\\ {\\rm kpc} & z \\le 1 \\\\ B (1+z)^{\\beta} & z > 1 \\end{cases}
              + \\delta, \\qquad f_L = \\min\\big(1, 10^{-0.4\\,\\alpha\\,(M - M_{\\rm piv})}\\big),

    δ drawn uniformly in ``[−1.5σ, +1σ]`` (σ = 0.25 kpc, scaled by f_L too),
    floored at ``re_min_kpc``.  f_L is Shibuya et al.'s (2015) size–luminosity
    slope α (``re_luminosity_slope``, 0.27; 0 gives the paper's recipe) for
    galaxies fainter than their B(1+z)^β sample (``re_pivot_abs_mag``,
    M = −19.7 ≈ 0.3 L*_{z=3}), with the absolute magnitude
    M = m − DM(z) + 2.5 log₁₀(1 + z) (a flat f_ν k-correction).
    """
    base = sources.re_kpc_low_z if z <= 1 else sources.re_b_kpc * (1.0 + z) ** sources.re_beta
    lo, hi = sources.re_scatter_sigmas
    factor = 1.0
    if sources.re_luminosity_slope and mag is not None and dist is not None:
        abs_mag = mag - float(dist.distance_modulus(z)) + 2.5 * np.log10(1.0 + z)
        factor = min(1.0, 10.0 ** (-0.4 * sources.re_luminosity_slope * (abs_mag - sources.re_pivot_abs_mag)))
    return float(max(factor * (base + rng.uniform(lo, hi) * sources.re_scatter_kpc), sources.re_min_kpc))


def _sed_fnu(lam_rest_nm: np.ndarray, lam_obs_nm: np.ndarray, blue: float, red: float, brk: float) -> np.ndarray:
    x = lam_rest_nm / _BREAK_NM
    f = np.where(lam_rest_nm >= _BREAK_NM, x**red, x**blue / brk)
    tau = 0.0036 * (lam_obs_nm / _LYA_NM) ** 3.46  # Madau (1995) Lyman-α forest
    f = np.where(lam_rest_nm < _LYA_NM, f * np.exp(-tau), f)
    return np.where(lam_rest_nm < _LYLIM_NM, 0.0, f)


def sed_magnitudes(rng: np.random.Generator, mag_ref: float, z: float, bands: tuple[ImagingBandParams, ...],
                   ref_index: int, sed: SedParams) -> np.ndarray:
    """AB magnitudes in every band of a galaxy of reference-band magnitude ``mag_ref`` at ``z``.

    Each band is a top hat in wavelength; its AB flux density is the mean of
    f_ν weighted by dλ/λ (photon counting for AB magnitudes):

    .. math:: m_b - m_{\\rm ref} = -2.5 \\log_{10}
              \\frac{\\langle f_\\nu \\rangle_b}{\\langle f_\\nu \\rangle_{\\rm ref}}, \\quad
              \\langle f_\\nu \\rangle = \\frac{\\int f_\\nu\\, d\\lambda/\\lambda}{\\int d\\lambda/\\lambda}

    The slopes of ``sed`` scatter by ``sed.slope_scatter`` (one draw per galaxy).

    Returns
    -------
    ndarray of shape (n_bands,)
        AB magnitudes; a band with no flux (e.g. blueward of the Lyman limit) gets 99.
    """
    blue = sed.blue_slope + rng.normal(0.0, sed.slope_scatter) if sed.slope_scatter else sed.blue_slope
    red = sed.red_slope + rng.normal(0.0, sed.slope_scatter) if sed.slope_scatter else sed.red_slope
    means = np.empty(len(bands))
    for i, band in enumerate(bands):
        lam = np.geomspace(band.wavelength_min_nm, band.wavelength_max_nm, 256)
        means[i] = np.mean(_sed_fnu(lam / (1.0 + z), lam, blue, red, sed.break_ratio))  # uniform in ln λ
    ref = means[ref_index]
    with np.errstate(divide="ignore"):
        mags = mag_ref - 2.5 * np.log10(np.maximum(means, 0.0) / max(ref, 1e-300))
    return np.where(np.isfinite(mags), np.minimum(mags, 99.0), 99.0)
