"""A sampled lens system rendered into noise-free, PSF-convolved band images (e⁻/s per pixel).

The light profiles, PSFs and noise are in :mod:`._render`; the systems are
drawn in :mod:`._systems`; :mod:`._tasks` adds the noise and the truth.
"""

from dataclasses import dataclass

import numpy as np

from skysieve.tasks.lens._render import (
    Galaxy,
    LensMass,
    band_fluxes,
    convolve_crop,
    galaxy_image,
    lens_model,
    psf_kernel,
    supersampled_grid,
)
from skysieve.tasks.lens._systems import LensSystem
from skysieve.tasks.lens.params import SimulateLensParams

__all__ = ["RenderedSystem", "render_lens_system"]


@dataclass(frozen=True)
class RenderedSystem:
    """Noise-free images of a system, e⁻/s per pixel, shape (n_bands, n, n).

    Attributes
    ----------
    scene : ndarray
        Central galaxy and neighbours, PSF-convolved.
    source : ndarray or None
        The lensed source alone, PSF-convolved.
    magnification : float
        Total lensed over intrinsic flux of the source (extended-source
        magnification, before PSF and cropping); NaN without a source.
    feature : ndarray or None
        A hard negative's look-alike components alone (already in ``scene``).
    """

    scene: np.ndarray
    source: np.ndarray | None
    magnification: float
    feature: np.ndarray | None = None


def _flux_window_arcsec(mass: LensMass, source: Galaxy) -> float:
    """Half-size of a window holding every image of the source out to 8 r_e.

    For an isothermal lens in a sheet, |θ| ≤ (|β| + θ_E)/(1 − κ − γ).
    """
    reach = np.hypot(source.x_arcsec, source.y_arcsec) + 8.0 * source.r_e_arcsec
    return (reach + mass.theta_e_arcsec / np.sqrt(mass.q)) / max(1.0 - mass.kappa_ext - mass.gamma_ext, 0.05)


def render_lens_system(system: LensSystem, cfg: SimulateLensParams) -> RenderedSystem:
    """Noise-free, PSF-convolved images of a system in every band.

    Every light component is rendered once at unit flux on a grid padded by
    the PSF radius and supersampled ``cfg.supersampling`` times per side, then
    scaled by its flux in each band, :math:`F_b = 10^{-0.4 (m_b - ZP_b)}`
    e⁻/s, summed, convolved with the band's PSF and cropped.  The source is
    sampled at β = θ − α(θ) (lenstronomy ray shooting); its extended-source
    magnification is the ray-traced flux over a window holding all its images
    (at the same resolution) for unit intrinsic flux.
    """
    n, d, ss = cfg.size_px, cfg.pixel_arcsec, cfg.supersampling
    kernels = [psf_kernel(b, d) for b in cfg.bands]
    pad = max(k.shape[0] // 2 for k in kernels)
    npad = n + 2 * pad
    x, y = supersampled_grid(npad, d, ss)
    nb = len(cfg.bands)
    scene, feature = np.zeros((nb, npad, npad)), np.zeros((nb, npad, npad))
    for image, galaxies in ((scene, (*system.centrals, *system.neighbours)), (feature, system.features)):
        for g in galaxies:
            unit = galaxy_image(g, x, y, pixel_arcsec=d, supersampling=ss)
            for k, f in enumerate(band_fluxes(g.mags, cfg.bands)):
                if f > 0:
                    image[k] += f * unit
    feature_out = np.stack([convolve_crop(feature[k], kernels[k], pad) for k in range(nb)]) if system.features else None
    scene_out = np.stack([convolve_crop(scene[k] + feature[k], kernels[k], pad) for k in range(nb)])
    if system.source is None or system.mass is None:
        return RenderedSystem(scene=scene_out, source=None, magnification=float("nan"), feature=feature_out)
    kwargs = system.mass.lenstronomy_kwargs()
    bx, by = lens_model().ray_shooting(x.ravel(), y.ravel(), kwargs)
    unit = galaxy_image(system.source, bx.reshape(x.shape), by.reshape(y.shape), pixel_arcsec=d, supersampling=ss)
    window = _flux_window_arcsec(system.mass, system.source)
    if window <= npad * d / 2.0:
        magnification = float(unit.sum())
    else:  # images reach beyond the padded cutout: trace a larger window, sampled at r_e/4 (≥ the sub-pixel)
        step = float(np.clip(system.source.r_e_arcsec / 4.0, d / ss, d))
        nwin = int(np.ceil(2.0 * window / step))
        wx, wy = supersampled_grid(nwin, step, 1)
        wbx, wby = lens_model().ray_shooting(wx.ravel(), wy.ravel(), kwargs)
        magnification = float(galaxy_image(system.source, wbx.reshape(wx.shape), wby.reshape(wy.shape),
                                           pixel_arcsec=step, supersampling=1).sum())
    fluxes = band_fluxes(system.source.mags, cfg.bands)
    source_out = np.stack([convolve_crop(fluxes[k] * unit, kernels[k], pad) for k in range(nb)])
    return RenderedSystem(scene=scene_out, source=source_out, magnification=magnification)
