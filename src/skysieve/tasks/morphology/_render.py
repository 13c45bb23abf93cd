"""Render one galaxy image with galsim and cut the stamp at k Petrosian radii (Pérez-Carrasco et al. 2019, §3).

The five CANDELS classes as galsim profiles, convolved with a Moffat PSF,
drawn on the band's pixel grid with sky noise from its 5σ depth:

* spheroid — a de Vaucouleurs profile (Sérsic n = 4), axis ratio 0.6–1;
* disk — an inclined exponential disk (scale height 0.1 r_s) with a small
  bulge, knots along two logarithmic spiral arms and, in a third of disks, a
  bar (a flat Sérsic n = 0.5 component);
* irregular — clumpy random knots (``galsim.RandomKnots``) over a lopsided
  diffuse exponential;
* point source — the PSF;
* unclassifiable — a blend of two comparable galaxies, or an artefact
  (a cosmic-ray streak over a faint galaxy).

The Petrosian radius r_P is where the Petrosian ratio

    η(r) = I(r) / ⟨I⟩(<r)

(mean surface brightness in a thin annulus at r over the mean inside r)
falls to ``eta`` (0.2), measured with photutils apertures on the noisy
image; the stamp is the square of side ``factor`` × r_P around the centre,
bilinearly resampled to ``stamp_px``² pixels and scaled to unit robust peak.
"""

from dataclasses import dataclass

import galsim
import numpy as np
from scipy import ndimage

__all__ = ["CachedKMoffat", "Galaxy", "cut_stamp", "draw_galaxy", "petrosian_radius_px", "sky_sigma"]

ZERO_POINT = 25.0  # AB magnitude of one count; the images are in counts


@dataclass(frozen=True)
class Galaxy:
    """One galaxy's truth (the class and the shape it was drawn with)."""

    klass: int
    mag: float
    re_arcsec: float
    q: float
    beta_deg: float
    inclination_deg: float
    arms: bool
    bar: bool
    seed: int


def sky_sigma(depth_mag: float, pixel_scale_arcsec: float, *, aperture_arcsec: float = 0.4) -> float:
    """Sky noise per pixel (counts) of a 5σ point-source depth ``depth_mag`` in an aperture of that diameter.

    σ_pix = F_lim / (5 √A), with F_lim = 10^{−0.4 (m_lim − ZP)} and A the
    aperture area in pixels, π (d / 2 / pix)².
    """
    flux_lim = 10 ** (-0.4 * (depth_mag - ZERO_POINT))
    area_px = np.pi * (aperture_arcsec / 2 / pixel_scale_arcsec) ** 2
    return float(flux_lim / (5 * np.sqrt(area_px)))


def _profile(g: Galaxy, flux: float, rng: np.random.Generator) -> galsim.GSObject:
    re = g.re_arcsec
    if g.klass == 0:  # spheroid
        return galsim.Sersic(n=4, half_light_radius=re, flux=flux).shear(q=g.q, beta=g.beta_deg * galsim.degrees)
    if g.klass == 1:
        return _disk(g, flux, rng)
    if g.klass == 2:  # irregular: clumps over a lopsided diffuse disk
        ud = galsim.UniformDeviate(int(g.seed))
        knots = galsim.RandomKnots(int(rng.integers(8, 25)), half_light_radius=re, flux=0.55 * flux, rng=ud)
        diffuse = galsim.Exponential(half_light_radius=1.3 * re, flux=0.45 * flux).shear(q=g.q, beta=g.beta_deg
                                                                                            * galsim.degrees)
        return knots + diffuse.shift(0.3 * re * rng.normal(), 0.3 * re * rng.normal())
    if g.klass == 3:  # point source
        return galsim.DeltaFunction(flux=flux)
    raise ValueError(f"class {g.klass} has no single profile")


def _disk(g: Galaxy, flux: float, rng: np.random.Generator) -> galsim.GSObject:
    """Inclined exponential + bulge + spiral-arm knots (+ bar), all projected by the inclination."""
    inc = g.inclination_deg * galsim.degrees
    rs = g.re_arcsec / 1.678
    beta = g.beta_deg * galsim.degrees
    disk = galsim.InclinedExponential(inc, scale_radius=rs, scale_h_over_r=0.1, flux=0.65 * flux)
    bulge = galsim.Sersic(n=4, half_light_radius=0.25 * g.re_arcsec, flux=0.15 * flux)
    parts = [disk.rotate(beta), bulge]
    cos_i = np.cos(np.radians(g.inclination_deg))
    n_knots = 10
    pitch = np.radians(rng.uniform(12, 25))
    theta = np.linspace(0.3, 3.5, n_knots // 2)
    knots = []
    for arm in (0.0, np.pi):
        r = 0.5 * rs * np.exp(theta * np.tan(pitch))
        x, y = r * np.cos(theta + arm), r * np.sin(theta + arm) * cos_i
        cb, sb = np.cos(np.radians(g.beta_deg)), np.sin(np.radians(g.beta_deg))
        for xi, yi in zip(x * cb - y * sb, x * sb + y * cb):
            knots.append(galsim.Gaussian(sigma=0.12 * rs, flux=0.15 * flux / n_knots).shift(xi, yi))
    if g.arms:
        parts.append(galsim.Add(knots))
    if g.bar:
        bar = galsim.Sersic(n=0.5, half_light_radius=0.5 * rs, flux=0.05 * flux).shear(q=0.3, beta=beta)
        parts.append(bar)
    return galsim.Add(parts)


class CachedKMoffat(galsim.Moffat):
    """A Moffat PSF whose Fourier image is computed once per FFT grid and then reused, to the last bit.

    galsim draws a convolution by FFT: it evaluates each component's Fourier
    transform on a k-space grid of N² points and multiplies them.  The Moffat's
    transform, ∝ (k r₀)^{β−1} K_{β−1}(k r₀), costs a Bessel function per point,
    about a quarter of the rendering time, yet a band's PSF is the same for
    every image and the grid takes few sizes (galsim rounds N to good FFT
    sizes).  This subclass keeps the drawn grid, keyed by the profile, the
    grid's bounds and spacing and the world-to-image Jacobian, in a per-process
    table of at most ``MAX_BYTES`` (oldest out first; the 16 target bands with
    their few grid sizes each fit).  galsim's ``drawFFT_makeKImage`` documents
    this reuse; the stamps are bitwise those of a plain ``galsim.Moffat``
    (``tests/tasks/morphology/test_render.py``; rendering speed:
    ``benchmarks/bench_morphology_sim.py --psf-cache``).
    """

    MAX_BYTES = 256 * 2**20
    _grids: dict = {}

    def _drawKImage(self, image, jac=None):
        key = (self.beta, self.fwhm, self.trunc, self.flux, self.gsparams, image.bounds, image.scale,
               None if jac is None else np.asarray(jac).tobytes())
        grids = CachedKMoffat._grids
        grid = grids.get(key)
        if grid is not None:
            image.array[...] = grid
            return
        super()._drawKImage(image, jac)
        grids[key] = image.array.copy()
        while sum(g.nbytes for g in grids.values()) > self.MAX_BYTES and len(grids) > 1:
            grids.pop(next(iter(grids)))


def draw_galaxy(g: Galaxy, *, flux: float, psf_fwhm_arcsec: float, pixel_scale_arcsec: float, sigma: float,
                size_px: int, neighbours: list[tuple[Galaxy, float, float, float]] = (),
                rng: np.random.Generator, folding_threshold: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``g`` (and its neighbours) convolved with the PSF on ``size_px``² pixels, with and without noise.

    Parameters
    ----------
    g : Galaxy
    flux : float
        Total counts of the central object.
    psf_fwhm_arcsec, pixel_scale_arcsec : float
        The band's Moffat (β = 3) PSF and pixel scale.
    sigma : float
        Sky noise per pixel (counts), Gaussian.
    size_px : int
    neighbours : list of (Galaxy, flux, dx_arcsec, dy_arcsec)
        Other cluster galaxies drawn into the same image.
    rng : numpy.random.Generator
    folding_threshold : float
        galsim's ``folding_threshold``: the fraction of flux allowed to fold
        back into the image from beyond the FFT grid, which it sizes (the grid
        spans 2π / k_step, with k_step = π / R and R enclosing all but this
        fraction of the flux; ``maxk_threshold`` is 3e-3).  Rendering time goes
        as the grid's area.  The default is ``simulate_morphology``'s.

    Returns
    -------
    noisy, clean : ndarray of shape (size_px, size_px), counts
    """
    psf = CachedKMoffat(beta=3.0, fwhm=psf_fwhm_arcsec)
    if g.klass == 4:  # unclassifiable: a blend of two, or a faint galaxy under an artefact
        base = Galaxy(int(rng.integers(0, 3)), g.mag, g.re_arcsec, g.q, g.beta_deg, g.inclination_deg, g.arms,
                      g.bar, g.seed)
        prof = _profile(base, flux, rng)
        if rng.random() < 0.6:
            other = Galaxy(int(rng.integers(0, 3)), g.mag, g.re_arcsec * rng.uniform(0.6, 1.4), rng.uniform(0.4, 1),
                           rng.uniform(0, 180), rng.uniform(0, 80), False, False, g.seed + 1)
            sep = g.re_arcsec * rng.uniform(0.8, 1.6)
            ang = rng.uniform(0, 2 * np.pi)
            oprof = _profile(other, flux * rng.uniform(0.5, 1.0), rng)
            prof = prof.shift(-0.5 * sep * np.cos(ang), -0.5 * sep * np.sin(ang)) + oprof.shift(
                0.5 * sep * np.cos(ang), 0.5 * sep * np.sin(ang))
    else:
        prof = _profile(g, flux, rng)
    for ng, nflux, dx, dy in neighbours:
        prof = prof + _profile(ng, nflux, rng).shift(dx, dy)
    gsparams = galsim.GSParams(folding_threshold=folding_threshold, maxk_threshold=3e-3)
    image = galsim.Convolve(prof, psf, gsparams=gsparams).drawImage(nx=size_px, ny=size_px, scale=pixel_scale_arcsec,
                                                 method="auto")
    clean = image.array.astype(np.float64)
    if g.klass == 4 and rng.random() < 0.4:  # a cosmic-ray streak across the centre
        _streak(clean, amplitude=clean.max() * rng.uniform(0.5, 2.0), rng=rng)
    noisy = clean + rng.normal(0.0, sigma, clean.shape)
    return noisy, clean


def _streak(image: np.ndarray, *, amplitude: float, rng: np.random.Generator) -> None:
    n = image.shape[0]
    ang = rng.uniform(0, np.pi)
    t = np.linspace(-0.3 * n, 0.3 * n, 4 * n)
    x = (n - 1) / 2 + t * np.cos(ang) + rng.normal(0, 2)
    y = (n - 1) / 2 + t * np.sin(ang) + rng.normal(0, 2)
    ok = (x >= 0) & (x < n) & (y >= 0) & (y < n)
    image[y[ok].astype(int), x[ok].astype(int)] += amplitude


def petrosian_radius_px(image: np.ndarray, *, eta: float = 0.2, r_min_px: float = 1.0,
                        r_max_px: float | None = None, n_radii: int = 40) -> float:
    """Petrosian radius (pixels) around the image centre: the first r with η(r) ≤ ``eta``.

    η(r) = I(0.8r…1.25r) / ⟨I⟩(<r), the mean surface brightness in an annulus
    at r over the mean within r, from the curve of growth F(<r) on log-spaced
    radii (pixel centres binned by radius; checked against photutils'
    ``CurveOfGrowth`` in the tests), linearly interpolated where it crosses
    ``eta``.  Returns ``r_max_px`` if η never falls that low.
    """
    ny, nx = image.shape
    r_max_px = r_max_px or 0.45 * min(ny, nx) / 1.25
    yy, xx = np.mgrid[:ny, :nx]
    rad = np.hypot(xx - (nx - 1) / 2, yy - (ny - 1) / 2).ravel()
    order = np.argsort(rad)
    rs, cum = rad[order], np.cumsum(image.ravel()[order], dtype=np.float64)
    npix = np.arange(1, rs.size + 1)

    def growth(r):
        k = np.searchsorted(rs, r, side="right") - 1
        return np.where(k >= 0, cum[np.maximum(k, 0)], 0.0), np.where(k >= 0, npix[np.maximum(k, 0)], 0)

    radii = np.geomspace(max(r_min_px, 1.0), r_max_px, n_radii)
    f_in, n_in = growth(radii)
    f_hi, n_hi = growth(1.25 * radii)
    f_lo, n_lo = growth(0.8 * radii)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = ((f_hi - f_lo) / np.maximum(n_hi - n_lo, 1)) / (f_in / np.maximum(n_in, 1))
    below = np.flatnonzero((ratio <= eta) & (f_in > 0))
    if below.size == 0:
        return float(r_max_px)
    k = int(below[0])
    if k == 0:
        return float(radii[0])
    r0, r1, e0, e1 = radii[k - 1], radii[k], ratio[k - 1], ratio[k]
    return float(r0 + (eta - e0) * (r1 - r0) / (e1 - e0)) if e1 != e0 else float(r1)


def cut_stamp(image: np.ndarray, *, side_px: float, stamp_px: int) -> np.ndarray:
    """The centred square of side ``side_px`` (native pixels), bilinearly resampled to ``stamp_px``² pixels.

    Output pixel centres sample the box uniformly (``scipy.ndimage.map_coordinates``,
    order 1); beyond the image the edge is mirrored.
    """
    c = (image.shape[0] - 1) / 2
    step = side_px / stamp_px
    coords = c + (np.arange(stamp_px) - (stamp_px - 1) / 2) * step
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    return ndimage.map_coordinates(image, [yy, xx], order=1, mode="mirror").astype(np.float32)
