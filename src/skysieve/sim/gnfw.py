"""The Arnaud et al. (2010, A10) universal pressure profile, projected to Compton y, round or elliptical.

The electron pressure is a generalised NFW (GNFW) profile of :math:`x = r/R_{500}`,

.. math:: \\frac{P(x)}{P_{500}} = p(x) = \\frac{P_0}{(c_{500}x)^{\\gamma}\\,
          \\left[1 + (c_{500}x)^{\\alpha}\\right]^{(\\beta-\\gamma)/\\alpha}},

with A10's universal parameters :math:`P_0 = 8.403\\,h_{70}^{-3/2}`,
:math:`c_{500} = 1.177`, :math:`\\gamma = 0.3081`, :math:`\\alpha = 1.0510`,
:math:`\\beta = 5.4905` (their eq. 12).  Compton y along a line of sight at
projected radius :math:`X = R_\\perp / R_{500}`, for gas truncated at the sphere
:math:`x_{\\max}` (= ``truncate_r500``), is

.. math:: y(X) \\propto s(X) = 2\\int_0^{\\sqrt{x_{\\max}^2 - X^2}} p\\!\\left(\\sqrt{X^2 + l^2}\\right) dl,

and the integral of :math:`s` over the disc :math:`X < x_{\\max}` is the
spherical volume integral, :math:`\\int_0^{x_{\\max}} 2\\pi X s\\,dX =
4\\pi\\int_0^{x_{\\max}} x^2 p\\,dx = \\tfrac{4\\pi}{3} I(x_{\\max})` in A10's notation
(:math:`I(x) = \\int_0^x 3 p(u) u^2 du`; :math:`I(1) = 0.6145`, :math:`I(5) = 1.1037`).

**Normalisation.** Each halo's profile integrates to its ``y5r500_arcmin2``
from :func:`skysieve.sim.y_m_relation` — the same Y–M relation (with its
scatter) the β-model uses, so switching the profile changes the shape only:

.. math:: y(\\theta) = \\frac{Y_{5R500}}{\\theta_{500}^2}\\,
          \\frac{s(\\theta_{\\rm e}/\\theta_{500})}{\\tfrac{4\\pi}{3} I(x_{\\max})}.

That relation's default normalisation is A10's own: their
:math:`Y_{\\rm sph}(R_{500})` (eq. 22, :math:`10^{-4.739}`) times
:math:`I(5)/I(1) = 1.796`.  :math:`P_0` cancels (it sets the Y–M normalisation
in A10; here the relation does), and A10's weak extra mass dependence of the
shape (:math:`\\alpha_P'(x)`) is left out.

**Ellipticity.** With axis ratio :math:`q \\le 1` and position angle
:math:`\\phi` (of the major axis, from north through east) the profile is
evaluated at the area-preserving elliptical radius

.. math:: \\theta_{\\rm e}^2 = q\\,u^2 + v^2/q, \\qquad
          u = e\\sin\\phi + n\\cos\\phi,\\quad v = e\\cos\\phi - n\\sin\\phi,

(:math:`e, n` the offsets east and north): the major semi-axis is stretched
by :math:`q^{-1/2}`, the minor one shrunk by :math:`q^{1/2}`, so the integral
(Y) is unchanged and the second moments' axis ratio is :math:`q`.
"""

import functools

import numpy as np
from pixell import enmap
from scipy import integrate

from skysieve.config import GnfwParams
from skysieve.errors import DataError
from skysieve.sim._geometry import car_pixel_scales_arcmin, per_profile
from skysieve.sim._random import SeedLike, as_generator

__all__ = ["draw_ellipticities", "gnfw_pressure", "gnfw_projected", "gnfw_volume_integral", "paint_gnfw_profiles"]

_N_TABLE = 400
_X_TABLE_MIN = 1e-4
_NEAR_HALF_WIDTH = 6  # pixels either side of the centre averaged over sub-pixels


def _shape(cfg: GnfwParams) -> tuple[float, float, float, float, float]:
    return cfg.p0, cfg.c500, cfg.gamma, cfg.alpha, cfg.beta


def _pressure(x, p0, c500, gamma, alpha, beta):
    cx = c500 * np.asarray(x, dtype=np.float64)
    return p0 / (cx**gamma * (1.0 + cx**alpha) ** ((beta - gamma) / alpha))


def gnfw_pressure(x, cfg: GnfwParams):
    """Dimensionless pressure :math:`p(x) = P/P_{500}` at :math:`x = r/R_{500}` (A10 eq. 11).

    Parameters
    ----------
    x : float or array_like
        Radius in units of :math:`R_{500}` (> 0).
    cfg : GnfwParams

    Returns
    -------
    ndarray
        :math:`p(x)`, dimensionless.
    """
    return _pressure(x, *_shape(cfg))


def gnfw_volume_integral(x_max: float, cfg: GnfwParams) -> float:
    """A10's :math:`I(x_{\\max}) = \\int_0^{x_{\\max}} 3\\,p(u)\\,u^2\\,du` (scipy ``quad``).

    :math:`Y_{\\rm sph}(x_{\\max} R_{500}) \\propto I(x_{\\max})`; with A10's
    parameters :math:`I(1) = 0.6145` and :math:`I(5) = 1.1037`.
    """
    return _volume_integral(float(x_max), _shape(cfg))


@functools.lru_cache(maxsize=32)
def _volume_integral(x_max: float, shape: tuple) -> float:
    value, _ = integrate.quad(lambda u: 3.0 * _pressure(u, *shape) * u * u, 0.0, x_max, limit=200, epsrel=1e-10)
    return float(value)


@functools.lru_cache(maxsize=32)
def _projected_table(x_max: float, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """:math:`s(X)` on ``_N_TABLE`` log-spaced radii from ``_X_TABLE_MIN`` to :math:`x_{\\max}` (quad each)."""
    radii = np.geomspace(_X_TABLE_MIN, x_max, _N_TABLE)
    values = np.empty_like(radii)
    for k, big_x in enumerate(radii[:-1]):
        half = np.sqrt(x_max**2 - big_x**2)
        values[k], _ = integrate.quad(lambda el, bx=big_x: _pressure(np.hypot(bx, el), *shape), 0.0, half,
                                      points=[min(big_x, half / 2)], limit=200, epsrel=1e-9)
    values[-1] = 0.0
    return radii, 2.0 * values


def gnfw_projected(x_perp, cfg: GnfwParams, *, x_max: float = 5.0):
    """Line-of-sight integral :math:`s(X)` of :math:`p` through the sphere :math:`x_{\\max}` (module docstring).

    Tabulated once per profile on 400 log-spaced radii (scipy ``quad``) and
    interpolated linearly in :math:`\\ln X` (relative error < 1e-4); constant
    below :math:`X = 10^{-4}` (:math:`s` is finite at the centre for
    :math:`\\gamma < 1`), zero at and beyond :math:`x_{\\max}`.

    Parameters
    ----------
    x_perp : float or array_like
        Projected radius in units of :math:`R_{500}`.
    cfg : GnfwParams
    x_max : float
        Truncation radius of the gas, in :math:`R_{500}`.

    Returns
    -------
    ndarray
        :math:`s(X)` in units of :math:`P_{500} R_{500}` (dimensionless).
    """
    radii, values = _projected_table(float(x_max), _shape(cfg))
    x = np.asarray(x_perp, dtype=np.float64)
    out = np.interp(np.log(np.maximum(x, _X_TABLE_MIN)), np.log(radii), values)
    return np.where(x < x_max, out, 0.0)


def draw_ellipticities(n: int, cfg: GnfwParams, *, seed: SeedLike) -> tuple[np.ndarray, np.ndarray]:
    """Axis ratio :math:`q \\sim U(q_{\\min}, 1)` and position angle :math:`\\phi \\sim U(0°, 180°)` per halo.

    Returns
    -------
    q, position_angle_deg : ndarray of shape (n,)
        All ones and zeros (no draw) when ``cfg.axis_ratio_min`` is 1.
    """
    if cfg.axis_ratio_min >= 1.0:
        return np.ones(n), np.zeros(n)
    rng = as_generator(seed)
    return rng.uniform(cfg.axis_ratio_min, 1.0, size=n), rng.uniform(0.0, 180.0, size=n)


def paint_gnfw_profiles(shape, wcs, ra_deg, dec_deg, amplitude, theta500_arcmin, cfg: GnfwParams, *,
                        x_max: float = 5.0, axis_ratio=1.0, position_angle_deg=0.0,
                        oversample: int = 5) -> enmap.ndmap:
    """Paint projected GNFW profiles, each integrating to its amplitude over the map's pixels.

    Each profile is drawn on a local stamp reaching :math:`x_{\\max}\\theta_{500}/\\sqrt{q}`
    (flat sky around its centre); the pixels within 6 of the centre take the
    mean of ``oversample`` × ``oversample`` sub-pixel samples, the others the
    value at their centre.  The stamp is then scaled so that its sum × pixel
    area is exactly the amplitude (the sampling's error, < 2 % for
    :math:`\\theta_{500}` ≥ 1 pixel, goes into the normalisation, not into Y);
    parts of a stamp beyond the map edge are dropped.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)``.
    wcs : astropy.wcs.WCS
        A CAR geometry.
    ra_deg, dec_deg : array_like of shape (n,)
        Profile centres, degrees.
    amplitude : array_like of shape (n,)
        Integral of each profile (Y in arcmin² gives Compton y; negative allowed).
    theta500_arcmin : array_like of shape (n,)
        :math:`\\theta_{500}`, arcmin (> 0).
    cfg : GnfwParams
        Profile shape.
    x_max : float
        Truncation, in :math:`R_{500}`.
    axis_ratio : float or array_like of shape (n,)
        Minor/major axis ratio :math:`q` in (0, 1].
    position_angle_deg : float or array_like of shape (n,)
        Major axis from north through east, degrees.
    oversample : int
        Sub-pixels per axis near the centre.

    Returns
    -------
    enmap.ndmap of shape (ny, nx), float64
        ``amplitude`` units per arcmin².
    """
    ny, nx = int(shape[-2]), int(shape[-1])
    ra, dec, amp, theta500, q, pa_deg = per_profile(ra_deg, dec_deg, amplitude, theta500_arcmin, axis_ratio,
                                                    position_angle_deg)
    n = ra.size
    pa = np.deg2rad(pa_deg)
    if np.any(theta500 <= 0):
        raise DataError("paint_gnfw_profiles: theta500_arcmin must be > 0")
    if np.any((q <= 0) | (q > 1)):
        raise DataError("paint_gnfw_profiles: axis_ratio must lie in (0, 1]")
    oversample = int(oversample)
    if oversample < 1:
        raise DataError(f"paint_gnfw_profiles: oversample must be >= 1 (got {oversample})")
    res_y, res_x = car_pixel_scales_arcmin(wcs)
    out = enmap.zeros((ny, nx), wcs, dtype=np.float64)
    if n == 0:
        return out
    pix = enmap.sky2pix((ny, nx), wcs, np.deg2rad(np.vstack([dec, ra])))
    east_sign = -1.0 if wcs.celestial.wcs.cdelt[0] < 0 else 1.0  # RA grows to the left on the usual CAR grid
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    for i in range(n):
        if amp[i] == 0:
            continue
        cy, cx = pix[0, i], pix[1, i]
        sy, sx = res_y, res_x * np.cos(np.deg2rad(dec[i]))
        ky, kx = int(np.rint(cy)), int(np.rint(cx))
        reach = x_max * theta500[i] / np.sqrt(q[i])
        hy = max(int(np.ceil(reach / sy)) + 1, _NEAR_HALF_WIDTH)
        hx = max(int(np.ceil(reach / sx)) + 1, _NEAR_HALF_WIDTH)
        if ky + hy < 0 or ky - hy >= ny or kx + hx < 0 or kx - hx >= nx:
            continue
        north = (np.arange(ky - hy, ky + hy + 1) - cy) * sy
        east = east_sign * (np.arange(kx - hx, kx + hx + 1) - cx) * sx
        sin_pa, cos_pa = np.sin(pa[i]), np.cos(pa[i])

        def profile(n_off, e_off, i=i, sin_pa=sin_pa, cos_pa=cos_pa):
            u = e_off * sin_pa + n_off * cos_pa
            v = e_off * cos_pa - n_off * sin_pa
            return gnfw_projected(np.sqrt(q[i] * u * u + v * v / q[i]) / theta500[i], cfg, x_max=x_max)

        stamp = profile(north[:, None], east[None, :])
        h = _NEAR_HALF_WIDTH
        near = (slice(hy - h, hy + h + 1), slice(hx - h, hx + h + 1))
        fn = north[near[0], None, None, None] + sub[None, None, :, None] * sy
        fe = east[None, near[1], None, None] + east_sign * sub[None, None, None, :] * sx
        stamp[near] = profile(fn, fe).mean(axis=(2, 3))
        total = stamp.sum() * sx * sy
        if total <= 0:
            continue
        stamp *= amp[i] / total
        oy, ox = ky - hy, kx - hx
        ys, xs = max(oy, 0), max(ox, 0)
        ye, xe = min(ky + hy + 1, ny), min(kx + hx + 1, nx)
        out[ys:ye, xs:xe] += stamp[ys - oy: ye - oy, xs - ox: xe - ox]
    return out
