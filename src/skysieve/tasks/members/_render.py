"""Pixels of one source: galsim bulge + disk + knots and neighbours, per-band PSF, ICL gradient and noise.

For band ``b`` the cutout is

.. math::

    I_b = \\Big[\\sum_{g} \\big(F^{bulge}_{g,b}\\, S_{n}(R_e^{b}) + F^{disk}_{g,b}\\, S_1(R_e^{d})
          + F^{knots}_{g,b} \\sum_k G_k\\big)\\Big] ⊛ P_b + I^{ICL}_b + n_b,

where ``g`` runs over the central source and its neighbours, ``S_n`` is a
unit-flux Sérsic profile, ``G_k`` small Gaussian star-forming knots placed
along the exponential disk, ``P_b`` the band's Moffat PSF, ``I^{ICL}`` the
de Vaucouleurs halo of the BCG (surface brightness
``I(R) = I_e exp(−b_4[(R/R_e)^{1/4} − 1])``, ``b_4 = 7.669``, total F814W
magnitude ``bcg_mag``) evaluated at each pixel's cluster-centric radius,
and ``n_b`` Gaussian sky noise plus the sources' Poisson noise.  Component
fluxes come from the CWW colours (:mod:`skysieve.tasks.members.sed`): the
bulge has type ``max(t − 1, 0)``, the disk ``min(t + 0.5, 3)``, the knots
``3`` (Im), each through the band's AB zero point.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import gamma

from skysieve.tasks.members.params import SimulateMembersParams

__all__ = ["Component", "SourceSpec", "component_fluxes", "icl_image", "render_source"]

B4 = 7.669
#: Sérsic bulges are truncated at this many half-light radii (keeps galsim's FFTs at the stamp's size).
TRUNC_HLR = 6.0


def _gsparams():
    import galsim

    return galsim.GSParams(folding_threshold=1e-2, maxk_threshold=2e-3, maximum_fft_size=2048)


@dataclass(frozen=True)
class Component:
    """One galaxy to draw: shape parameters (arcsec) and its per-band fluxes (e⁻/s).

    ``fluxes`` has shape (3, nbands): bulge, disk, knots.
    """

    dx_arcsec: float
    dy_arcsec: float
    re_arcsec: float
    sersic_n: float
    q_bulge: float
    q_disk: float
    pa_rad: float
    n_knots: int
    fluxes: np.ndarray


@dataclass(frozen=True)
class SourceSpec:
    """Everything needed to render one cutout (picklable; the worker needs no tables)."""

    id: int
    central: Component
    neighbours: tuple[Component, ...]
    icl_flux: np.ndarray  # (nbands,) total e⁻/s of the BCG + ICL halo
    r_cl_arcsec: float
    phi_rad: float
    missing: np.ndarray  # (nbands,) bool


def component_fluxes(mag_ref: float, bulge_frac: float, knot_frac: float, colour_bulge: np.ndarray,
                     colour_disk: np.ndarray, colour_knots: np.ndarray, zero_points_ab: np.ndarray) -> np.ndarray:
    """Per-band fluxes (e⁻/s) of the bulge, disk and knots, shape (3, nbands).

    The fractions are of the total light in the reference band; ``colour_*``
    are ``m_b − m_ref`` per band. ``F = 10^{−0.4 (m_ref − 2.5 log10 f + colour_b − ZP_b)}``.
    """
    fracs = np.array([bulge_frac, (1 - bulge_frac) * (1 - knot_frac), (1 - bulge_frac) * knot_frac])
    colours = np.stack([colour_bulge, colour_disk, colour_knots])
    with np.errstate(divide="ignore"):
        mags = mag_ref - 2.5 * np.log10(fracs)[:, None] + colours
    return np.where(fracs[:, None] > 0, 10 ** (-0.4 * (mags - zero_points_ab[None, :])), 0.0)


def icl_image(total_flux: float, re_arcsec: float, r_cl_arcsec: float, phi_rad: float, *, size: int,
              scale: float) -> np.ndarray:
    """The BCG + ICL de Vaucouleurs halo on the cutout's pixels (e⁻/s per pixel).

    ``I_e = L / (2π · 4 · e^{b_4} b_4^{−8} Γ(8) R_e²)`` for total flux ``L``;
    pixel ``(x, y)`` sits at ``R_vec + (x − x_c, y − y_c)·scale`` from the BCG.
    """
    ie = total_flux / (2 * np.pi * 4 * np.exp(B4) * B4**-8 * gamma(8) * re_arcsec**2)
    y, x = (np.mgrid[:size, :size] - (size - 1) / 2) * scale
    r = np.hypot(r_cl_arcsec * np.cos(phi_rad) + x, r_cl_arcsec * np.sin(phi_rad) + y)
    r = np.maximum(r, 0.5)
    return ie * np.exp(-B4 * ((r / re_arcsec) ** 0.25 - 1)) * scale**2


def _profiles(c: Component, rng: np.random.Generator, scale: float):
    import galsim

    GSP = _gsparams()
    hlr = max(0.6 * c.re_arcsec, 0.03)
    bulge = galsim.Sersic(n=c.sersic_n, half_light_radius=hlr, flux=1.0, trunc=TRUNC_HLR * hlr, gsparams=GSP)
    bulge = bulge.shear(q=c.q_bulge, beta=c.pa_rad * galsim.radians)
    re_disk = max(1.2 * c.re_arcsec, 0.04)
    disk = galsim.Exponential(half_light_radius=re_disk, flux=1.0, gsparams=GSP)
    disk = disk.shear(q=c.q_disk, beta=c.pa_rad * galsim.radians)
    knots = None
    if c.n_knots > 0:
        # radii from the exponential disk (Gamma(2) in units of the scale length), random azimuths
        h = re_disk / 1.678
        rad = h * rng.gamma(2.0, 1.0, c.n_knots)
        ang = rng.uniform(0, 2 * np.pi, c.n_knots)
        knot = galsim.Gaussian(sigma=max(0.4 * scale, 0.02), flux=1.0 / c.n_knots, gsparams=GSP)
        knots = galsim.Add([knot.shift(r * np.cos(a), r * np.sin(a) * c.q_disk) for r, a in zip(rad, ang)])
    return bulge, disk, knots


def render_source(spec: SourceSpec, cfg: SimulateMembersParams, *, seed: int) -> np.ndarray:
    """The cutout of one source, shape (size_px, size_px, nbands), float32, e⁻/s; NaN in bands without coverage."""
    import galsim

    rng = np.random.default_rng([cfg.seed, seed])
    size, scale = cfg.size_px, cfg.pixel_scale_arcsec
    gals = [(c, _profiles(c, rng, scale)) for c in (spec.central, *spec.neighbours)]
    out = np.empty((size, size, len(cfg.bands)), dtype=np.float32)
    gsp = _gsparams()
    for b, band in enumerate(cfg.bands):
        if spec.missing[b]:
            out[..., b] = np.nan
            continue
        psf = galsim.Moffat(beta=band.moffat_beta, fwhm=band.psf_fwhm_arcsec, gsparams=gsp)
        image = galsim.ImageD(size, size, scale=scale)
        for c, (bulge, disk, knots) in gals:
            parts = [p * f for p, f in zip((bulge, disk, knots), c.fluxes[:, b]) if p is not None and f > 0]
            if parts:
                # each galaxy on its own FFT, offset in pixels from the stamp centre
                galsim.Convolve(galsim.Add(parts), psf, gsparams=gsp).drawImage(
                    image=image, add_to_image=True, offset=(c.dx_arcsec / scale, c.dy_arcsec / scale))
        img = image.array
        img = img + icl_image(spec.icl_flux[b], cfg.icl_re_arcsec, spec.r_cl_arcsec, spec.phi_rad, size=size,
                              scale=scale)
        sky_sigma = 10 ** (-0.4 * (band.sb_limit_1sigma - band.zero_point_ab)) * scale
        var = sky_sigma**2 + np.clip(img, 0, None) / band.exposure_time_s
        out[..., b] = img + np.sqrt(var) * rng.standard_normal(img.shape)
    return out
