"""Ray tracing, light profiles, PSFs, caustics and noise of the lens simulation (internal).

Coordinates are arcseconds on the sky relative to the cutout centre: ``x``
grows with the column index (towards the west, so RA decreases), ``y`` with
the row index (north).  Pixel ``j`` of an ``n``-pixel axis is centred at
``(j − (n − 1)/2) · pixel``.  Light profiles are lenstronomy's
``SERSIC_ELLIPSE`` normalised to unit total flux; rays are traced with
lenstronomy's ``LensModel`` (SIE + external shear + convergence).
"""

import functools
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from skysieve.tasks.lens.params import ImagingBandParams

__all__ = [
    "Galaxy",
    "LensMass",
    "add_noise",
    "arc_snr",
    "caustic_region_sample",
    "distance_to_polygon",
    "galaxy_image",
    "noise_variance",
    "points_in_polygon",
    "psf_kernel",
    "supersampled_grid",
    "tangential_critical_curve",
]


@dataclass(frozen=True)
class Galaxy:
    """One elliptical Sérsic light component (lenstronomy ``SERSIC_ELLIPSE``), optionally bent or with arms.

    Attributes
    ----------
    mags : tuple of float
        AB magnitude in every band, in channel order (99 = no flux).
    r_e_arcsec : float
        Circularised effective radius (lenstronomy's ``R_sersic``).
    n_sersic, q : float
        Sérsic index and axis ratio b/a.
    pa_rad : float
        Position angle of the major axis from the +x axis, radians.
    x_arcsec, y_arcsec : float
        Centre (in the source plane for a lensed source).
    bend_per_arcsec : float
        Curvature ``c``: the profile is evaluated at ``y' − c x'²`` in its own
        frame (an area-preserving map, so the flux is unchanged).
    arms, arm_pitch_rad, arm_amplitude : int, float, float
        Logarithmic spiral modulation ``1 + A cos(m (φ − ln(r/r_e) / tan p))``
        in the deprojected disc (flux-preserving for A ≤ 1).
    """

    mags: tuple[float, ...]
    r_e_arcsec: float
    n_sersic: float
    q: float
    pa_rad: float
    x_arcsec: float = 0.0
    y_arcsec: float = 0.0
    bend_per_arcsec: float = 0.0
    arms: int = 0
    arm_pitch_rad: float = 0.0
    arm_amplitude: float = 0.0


@dataclass(frozen=True)
class LensMass:
    """A singular isothermal ellipsoid at the origin plus a cluster's convergence and shear.

    Attributes
    ----------
    theta_e_arcsec : float
        SIE Einstein radius (lenstronomy's ``theta_E``).
    q, pa_rad : float
        Mass axis ratio and major-axis angle from +x.
    kappa_ext, gamma1, gamma2 : float
        External convergence and shear (lenstronomy ``CONVERGENCE`` and ``SHEAR``).
    """

    theta_e_arcsec: float
    q: float
    pa_rad: float
    kappa_ext: float = 0.0
    gamma1: float = 0.0
    gamma2: float = 0.0

    @property
    def gamma_ext(self) -> float:
        return float(np.hypot(self.gamma1, self.gamma2))

    def lenstronomy_kwargs(self) -> list[dict]:
        """kwargs for ``LensModel(["SIE", "SHEAR", "CONVERGENCE"])``."""
        e1, e2 = _ellipticity(self.pa_rad, self.q)
        return [
            {"theta_E": self.theta_e_arcsec, "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0},
            {"gamma1": self.gamma1, "gamma2": self.gamma2, "ra_0": 0.0, "dec_0": 0.0},
            {"kappa": self.kappa_ext, "ra_0": 0.0, "dec_0": 0.0},
        ]


LENS_MODEL_LIST = ("SIE", "SHEAR", "CONVERGENCE")


def _ellipticity(pa_rad: float, q: float) -> tuple[float, float]:
    """lenstronomy's (e1, e2) = (1 − q)/(1 + q) · (cos 2φ, sin 2φ)."""
    e = (1.0 - q) / (1.0 + q)
    return e * np.cos(2.0 * pa_rad), e * np.sin(2.0 * pa_rad)


@functools.lru_cache(maxsize=1)
def lens_model():
    """The (cached) lenstronomy ``LensModel`` of SIE + SHEAR + CONVERGENCE."""
    from lenstronomy.LensModel.lens_model import LensModel

    return LensModel(list(LENS_MODEL_LIST))


@functools.lru_cache(maxsize=1)
def _sie_model():
    from lenstronomy.LensModel.lens_model import LensModel

    return LensModel(["SIE"])


@functools.lru_cache(maxsize=1)
def lens_equation_solver():
    """The (cached) lenstronomy ``LensEquationSolver`` of :func:`lens_model`."""
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

    return LensEquationSolver(lens_model())


@functools.lru_cache(maxsize=1)
def _sersic_model():
    from lenstronomy.LightModel.light_model import LightModel

    return LightModel(["SERSIC"])


@functools.lru_cache(maxsize=8)
def supersampled_grid(n_px: int, pixel_arcsec: float, supersampling: int) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel centres of an ``n_px`` × ``n_px`` grid centred on the origin (cached, read-only).

    Returns
    -------
    x, y : ndarray of shape (n_px·s, n_px·s), arcsec
        ``s`` = ``supersampling``; row index along y, column index along x.
    """
    m = n_px * supersampling
    c = ((np.arange(m) + 0.5) / supersampling - n_px / 2.0) * pixel_arcsec
    x, y = np.meshgrid(c, c)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def bin_pixels(sub: np.ndarray, supersampling: int) -> np.ndarray:
    """Mean over each pixel's s × s sub-pixels: (n·s, n·s) → (n, n)."""
    m = sub.shape[0] // supersampling
    return sub.reshape(m, supersampling, m, supersampling).mean(axis=(1, 3))


def galaxy_image(galaxy: Galaxy, x: np.ndarray, y: np.ndarray, *, pixel_arcsec: float,
                 supersampling: int) -> np.ndarray:
    """Unit-total-flux image of ``galaxy`` sampled at sub-pixel positions ``(x, y)``.

    ``(x, y)`` are image-plane sub-pixel centres, or for a lensed source their
    source-plane positions β = θ − α(θ); surface brightness is conserved, so
    the same call renders both.

    Returns
    -------
    ndarray of shape (n, n)
        Flux per pixel for unit total flux: the mean surface brightness over a
        pixel's sub-pixels times the pixel area.
    """
    dx, dy = x - galaxy.x_arcsec, y - galaxy.y_arcsec
    c, s = np.cos(galaxy.pa_rad), np.sin(galaxy.pa_rad)
    xp = c * dx + s * dy
    yp = -s * dx + c * dy
    if galaxy.bend_per_arcsec:
        yp = yp - galaxy.bend_per_arcsec * xp**2
    # lenstronomy's SERSIC_ELLIPSE is its circular SERSIC at (√q x', y'/√q): R_sersic is the circularised radius.
    sq = np.sqrt(galaxy.q)
    kwargs = [{"amp": 1.0, "R_sersic": galaxy.r_e_arcsec, "n_sersic": galaxy.n_sersic, "center_x": 0.0,
               "center_y": 0.0}]
    model = _sersic_model()
    kwargs[0]["amp"] = 1.0 / model.total_flux(kwargs, norm=True)[0]
    sb = model.surface_brightness((sq * xp).ravel(), (yp / sq).ravel(), kwargs).reshape(xp.shape)
    if galaxy.arms and galaxy.arm_amplitude:
        v = yp / galaxy.q
        r = np.maximum(np.hypot(xp, v), 1e-6 * galaxy.r_e_arcsec)
        phase = galaxy.arms * (np.arctan2(v, xp) - np.log(r / galaxy.r_e_arcsec) / np.tan(galaxy.arm_pitch_rad))
        sb = sb * (1.0 + galaxy.arm_amplitude * np.cos(phase))
    return bin_pixels(sb, supersampling) * pixel_arcsec**2


def band_fluxes(mags, bands: tuple[ImagingBandParams, ...]) -> np.ndarray:
    """Total flux in e⁻/s per band: F = 10^(−0.4 (m − ZP))."""
    zp = np.array([b.zero_point_ab for b in bands])
    return 10.0 ** (-0.4 * (np.asarray(mags, dtype=float) - zp))


@functools.lru_cache(maxsize=64)
def psf_kernel(band: ImagingBandParams, pixel_arcsec: float, *, oversample: int = 7) -> np.ndarray:
    """Pixel-integrated PSF kernel of ``band``, odd-sized, summing to 1.

    Gaussian: :math:`\\exp(-r^2/2\\sigma^2)`, σ = FWHM / 2.3548, out to 4σ.
    Moffat: :math:`(1 + r^2/\\alpha^2)^{-\\beta}`, α = FWHM / (2√(2^{1/β} − 1)),
    out to the radius enclosing 99.5 % of the light,
    :math:`R = \\alpha\\sqrt{0.005^{1/(1-\\beta)} - 1}`.

    Returns
    -------
    ndarray of shape (k, k)
    """
    fwhm = band.psf_fwhm_arcsec
    if band.psf == "gaussian":
        sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        radius = 4.0 * sigma

        def profile(r2):
            return np.exp(-0.5 * r2 / sigma**2)
    else:
        beta = band.moffat_beta
        alpha = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
        radius = alpha * np.sqrt(0.005 ** (1.0 / (1.0 - beta)) - 1.0)

        def profile(r2):
            return (1.0 + r2 / alpha**2) ** (-beta)
    half = max(int(np.ceil(radius / pixel_arcsec)), 1)
    n = 2 * half + 1
    x, y = supersampled_grid(n, pixel_arcsec, oversample)
    kernel = bin_pixels(profile(x**2 + y**2), oversample)
    return kernel / kernel.sum()


def convolve_crop(image: np.ndarray, kernel: np.ndarray, pad: int) -> np.ndarray:
    """Convolve a padded image with ``kernel`` and cut ``pad`` pixels from each side."""
    out = fftconvolve(image, kernel, mode="same")
    return out[pad: out.shape[0] - pad, pad: out.shape[1] - pad] if pad else out


def tangential_critical_curve(mass: LensMass, *, n_angles: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """The tangential critical curve of SIE + external convergence and shear, exactly.

    The SIE potential is homogeneous of degree 1, so along a ray at angle φ
    its Hessian is :math:`H(r, φ) = H_1(φ)/r` with :math:`\\det H_1 = 0`.
    With :math:`M = I - \\Gamma`, Γ the constant Hessian of the external
    convergence and shear, the Jacobian determinant along the ray is
    :math:`\\det M - \\mathrm{tr}(\\mathrm{adj}(M) H_1)/r`, so the critical
    curve is

    .. math:: r_t(\\varphi) = \\frac{\\mathrm{tr}(\\mathrm{adj}(M)\\, H_1(\\varphi))}{\\det M},
              \\qquad \\det M = (1-\\kappa)^2 - \\gamma^2 .

    Returns
    -------
    x, y : ndarray of shape (n_angles,), arcsec
    """
    det_m = (1.0 - mass.kappa_ext) ** 2 - mass.gamma_ext**2
    if det_m <= 0:
        raise ValueError(f"external convergence {mass.kappa_ext:.3g} and shear {mass.gamma_ext:.3g} are "
                         "supercritical (need kappa + gamma < 1)")
    phi = np.linspace(0.0, 2.0 * np.pi, n_angles, endpoint=False)
    ux, uy = np.cos(phi), np.sin(phi)
    fxx, fxy, fyx, fyy = _sie_model().hessian(ux, uy, mass.lenstronomy_kwargs()[:1])
    m11 = 1.0 - mass.kappa_ext - mass.gamma1
    m22 = 1.0 - mass.kappa_ext + mass.gamma1
    m12 = m21 = -mass.gamma2
    r = (m22 * fxx - m12 * fyx - m21 * fxy + m11 * fyy) / det_m
    return r * ux, r * uy


def caustic(mass: LensMass, crit_x: np.ndarray, crit_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map a critical curve to the source plane: β = θ − α(θ)."""
    return lens_model().ray_shooting(crit_x, crit_y, mass.lenstronomy_kwargs())


def polygon_area(x: np.ndarray, y: np.ndarray) -> float:
    """Absolute shoelace area of a closed polygon (vertices in order)."""
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def points_in_polygon(px: np.ndarray, py: np.ndarray, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """Non-zero winding-number test (self-intersecting caustics allowed).

    Returns
    -------
    ndarray of bool, shape of ``px``
    """
    px, py = np.atleast_1d(px)[:, None], np.atleast_1d(py)[:, None]
    x0, y0, x1, y1 = vx[None, :], vy[None, :], np.roll(vx, -1)[None, :], np.roll(vy, -1)[None, :]
    cross = (x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)
    up = (y0 <= py) & (y1 > py) & (cross > 0)
    down = (y0 > py) & (y1 <= py) & (cross < 0)
    return (up.sum(axis=1) - down.sum(axis=1)) != 0


def distance_to_polygon(px: np.ndarray, py: np.ndarray, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest edge of a closed polygon."""
    px, py = np.atleast_1d(px)[:, None], np.atleast_1d(py)[:, None]
    x0, y0 = vx[None, :], vy[None, :]
    ex, ey = np.roll(vx, -1)[None, :] - x0, np.roll(vy, -1)[None, :] - y0
    length2 = np.maximum(ex**2 + ey**2, 1e-300)
    t = np.clip(((px - x0) * ex + (py - y0) * ey) / length2, 0.0, 1.0)
    return np.sqrt(((x0 + t * ex - px) ** 2 + (y0 + t * ey - py) ** 2).min(axis=1))


def caustic_region_sample(rng: np.random.Generator, cx: np.ndarray, cy: np.ndarray, buffer: float, *,
                          batch: int = 64, max_batches: int = 1000) -> tuple[float, float]:
    """A point drawn uniformly inside the caustic or within ``buffer`` of it.

    Raises
    ------
    ValueError
        If no point is accepted (an empty region: a point-like caustic and no buffer).
    """
    x_lo, x_hi = cx.min() - buffer, cx.max() + buffer
    y_lo, y_hi = cy.min() - buffer, cy.max() + buffer
    for _ in range(max_batches):
        px, py = rng.uniform(x_lo, x_hi, batch), rng.uniform(y_lo, y_hi, batch)
        ok = points_in_polygon(px, py, cx, cy)
        if buffer > 0:
            ok |= distance_to_polygon(px, py, cx, cy) <= buffer
        hit = np.flatnonzero(ok)
        if hit.size:
            return float(px[hit[0]]), float(py[hit[0]])
    raise ValueError("the caustic region is empty (a point caustic with no buffer)")


def add_noise(rng: np.random.Generator, image: np.ndarray, band: ImagingBandParams, pixel_arcsec: float, *,
              exposure_scale: float = 1.0) -> np.ndarray:
    """Sky-subtracted image with Poisson (source + sky) and read noise, e⁻/s.

    .. math:: N = \\mathrm{Poisson}\\big((I + S)\\,t\\big) + \\mathcal{N}(0, \\sigma_{\\rm RN}^2 n_{\\rm exp}),
              \\qquad I' = N/t - S,

    with sky :math:`S = 10^{-0.4(\\mu_{\\rm sky} - ZP)}\\, p^2` e⁻/s per pixel of side p, exposure
    ``t = exposure_scale × band.exposure_time_s`` and ``n_exp = exposure_scale × band.n_exposures``
    (a deeper field: more exposures of the same length).

    Parameters
    ----------
    image : ndarray of shape (n, n)
        Noise-free image, e⁻/s per pixel.
    exposure_scale : float, keyword-only
        The cluster's depth relative to the band's exposure (``ClusterParams.exposure_scale``).
    """
    sky = 10.0 ** (-0.4 * (band.sky_mag_arcsec2 - band.zero_point_ab)) * pixel_arcsec**2
    t = band.exposure_time_s * exposure_scale
    counts = rng.poisson(np.clip(image + sky, 0.0, None) * t).astype(float)
    counts += rng.normal(0.0, band.read_noise_e * np.sqrt(band.n_exposures * exposure_scale), size=image.shape)
    return counts / t - sky


def noise_variance(image: np.ndarray, band: ImagingBandParams, pixel_arcsec: float, *,
                   exposure_scale: float = 1.0) -> np.ndarray:
    """Per-pixel variance of :func:`add_noise`'s output, (e⁻/s)²: ``(I + S)/t + σ_RN² n_exp / t²``."""
    sky = 10.0 ** (-0.4 * (band.sky_mag_arcsec2 - band.zero_point_ab)) * pixel_arcsec**2
    t = band.exposure_time_s * exposure_scale
    return np.clip(image + sky, 0.0, None) / t + band.read_noise_e**2 * band.n_exposures * exposure_scale / t**2


def arc_snr(source: np.ndarray, scene: np.ndarray, bands, *, pixel_arcsec: float, exposure_scale: float = 1.0
            ) -> float:
    """Best-case (matched-filter) signal-to-noise ratio of the lensed source over all bands.

    .. math:: \\mathrm{SNR}^2 = \\sum_b \\sum_{\\rm pix} A_b^2 / \\sigma_b^2,

    with A_b the noise-free lensed source in band b and σ_b² the variance of
    :func:`noise_variance` at the pixel (sky, read noise and the Poisson
    noise of lens + source): the SNR of a filter that knew the arcs exactly.

    Parameters
    ----------
    source, scene : ndarray of shape (n_bands, n, n)
        Noise-free lensed source and the rest of the scene, e⁻/s.
    bands : sequence of ImagingBandParams
    pixel_arcsec : float, keyword-only
    exposure_scale : float, keyword-only
        The cluster's depth (``ClusterParams.exposure_scale``).
    """
    total = 0.0
    for k, band in enumerate(bands):
        var = noise_variance(scene[k] + source[k], band, pixel_arcsec, exposure_scale=exposure_scale)
        total += float(np.sum(source[k] ** 2 / var))
    return float(np.sqrt(total))
