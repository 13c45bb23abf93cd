"""SDSS-like g, r, i fields with galaxy clusters, field galaxies and stars (galsim), and their truth.

Images are in nanomaggies per pixel (SDSS's unit: m = 22.5 − 2.5 log10 f).
Every object is a galsim profile (de Vaucouleurs for early types, exponential
for late types, a point for stars) convolved with one Moffat PSF and drawn
once at unit flux; each band adds it scaled by the object's flux in that band.
Fields are stored on a grid of ``native_pixel_arcsec × bin`` pixels: galsim
draws on a grid 4× finer with its pixel response and 4 × 4 blocks are summed —
the same, up to sub-pixel structure, as drawing at 0.396″ and summing
``bin × bin`` blocks — then Gaussian sky noise whose σ gives each band its 5σ
point-source depth is added.
"""

from dataclasses import dataclass

import numpy as np

from skysieve.tasks.detect._clusters import (
    apparent_mag_r,
    bcg_mean_abs_mag_r,
    halo,
    red_sequence_colours,
    sample_nfw_projected,
    sample_schechter,
)
from skysieve.tasks.detect.params import SimulateDetectParams

__all__ = ["SimField", "field_centres", "flux_nmgy", "simulate_field", "sky_sigma_nmgy", "truth_columns"]

#: Columns of the cluster truth table, in order, with units.
truth_columns = {
    "cluster_id": "", "field": "", "ra": "deg", "dec": "deg", "x_px": "pix", "y_px": "pix", "z": "",
    "m200_msun": "solMass", "r200_kpc": "kpc", "concentration": "", "r200_arcsec": "arcsec", "richness": "",
    "bcg_mag_r": "mag", "box_x0": "pix", "box_y0": "pix", "box_x1": "pix", "box_y1": "pix",
}


@dataclass
class SimField:
    """One simulated field.

    Attributes
    ----------
    index : int
    ra_deg, dec_deg : float
        Centre.
    images : dict of str to ndarray of shape (n, n), float32, nanomaggies per pixel
    sigma_nmgy : dict of str to float
        Sky noise per stored pixel.
    clusters : list of dict
        Truth rows (:data:`truth_columns`, ra/dec filled by the writer).
    """

    index: int
    ra_deg: float
    dec_deg: float
    images: dict[str, np.ndarray]
    sigma_nmgy: dict[str, float]
    clusters: list[dict]


def flux_nmgy(mag: np.ndarray | float) -> np.ndarray:
    """Flux in nanomaggies of an AB magnitude: f = 10^(−0.4 (m − 22.5))."""
    return 10 ** (-0.4 * (np.asarray(mag, dtype=np.float64) - 22.5))


def sky_sigma_nmgy(depth_mag: float, *, fwhm_arcsec: float, pixel_arcsec: float) -> float:
    r"""Sky σ per pixel that puts the 5σ point-source limit at ``depth_mag``.

    A point source measured with the PSF has noise :math:`\sigma_{pix}\sqrt{A}`
    with noise-equivalent area :math:`A = 4\pi\sigma_{psf}^2` (Gaussian PSF,
    :math:`\sigma_{psf} = \mathrm{FWHM}/2.355`) in pixels, so
    :math:`\sigma_{pix} = f_{5\sigma} / (5\sqrt{A})`.
    """
    sigma_psf_px = fwhm_arcsec / 2.3548 / pixel_arcsec
    nea = 4 * np.pi * sigma_psf_px**2
    return float(flux_nmgy(depth_mag) / (5 * np.sqrt(max(nea, 1.0))))


def field_centres(cfg: SimulateDetectParams, n: int | None = None) -> np.ndarray:
    """(n, 2) RA, Dec (deg) of non-overlapping fields on rows of a patch at (ra0, dec0)."""
    n = cfg.n_fields if n is None else n
    side = cfg.native_size_px * cfg.native_pixel_arcsec / 3600.0 * 1.05
    per_row = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    dec = cfg.dec0_deg + (i // per_row) * side
    ra = cfg.ra0_deg + (i % per_row) * side / np.cos(np.radians(dec))
    return np.column_stack([ra % 360.0, dec])


def _mags_from_counts(n: int, *, bright: float, faint: float, slope: float, rng) -> np.ndarray:
    """Magnitudes with dN/dm ∝ 10^(slope m) between ``bright`` and ``faint`` (inverse CDF)."""
    a, b = 10 ** (slope * bright), 10 ** (slope * faint)
    return np.log10(a + rng.random(n) * (b - a)) / slope


class _Canvas:
    """Band images on the stored grid and the galsim templates drawn onto them.

    A profile (kind, half-light radius, ellipticity, quantised on a small
    bank) is drawn once by galsim, PSF-convolved, on a grid ``ovs`` times
    finer than the stored one; an object is placed by shifting that template
    by whole fine pixels (positions to 1/``ovs`` of a stored pixel) and summing
    ``ovs × ovs`` blocks, which integrates it over the stored pixels.
    """

    ovs = 4
    _hlr_bank = np.geomspace(0.2, 16.0, 20)
    _e_bank = ((0.0, 0.0), (0.2, 0.0), (-0.2, 0.0), (0.0, 0.2), (0.0, -0.2))

    def __init__(self, cfg: SimulateDetectParams, size: int):
        import galsim

        self.galsim = galsim
        self.scale = cfg.native_pixel_arcsec * cfg.bin
        self.size = size
        self.bands = [b.name for b in cfg.bands]
        self.images = {b: np.zeros((size, size), dtype=np.float64) for b in self.bands}
        self.gsparams = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=1e-2)
        self.psf = galsim.Moffat(beta=cfg.moffat_beta, fwhm=cfg.psf_fwhm_arcsec, trunc=4 * cfg.psf_fwhm_arcsec,
                                 gsparams=self.gsparams)
        self._templates: dict[tuple, np.ndarray] = {}

    def _template(self, sersic: int, hlr_index: int, e_index: int) -> np.ndarray:
        key = (sersic, hlr_index, e_index)
        if key not in self._templates:
            g = self.galsim
            if hlr_index < 0:
                prof, hlr = self.psf, 0.0
            else:
                hlr = float(self._hlr_bank[hlr_index])
                cls = g.DeVaucouleurs if sersic == 4 else g.Exponential
                e1, e2 = self._e_bank[e_index]
                prof = g.Convolve([cls(half_light_radius=hlr, gsparams=self.gsparams).shear(e1=e1, e2=e2), self.psf],
                                  gsparams=self.gsparams)
            # out to 8 r_e: ≈ 97 % of a de Vaucouleurs profile's flux
            half = int(np.clip(np.ceil((8 * hlr + 3 * self.psf.fwhm) / self.scale), 2, 40))
            nf = (2 * half + 1 + 2) * self.ovs  # one stored pixel of margin each side for the shifts
            self._templates[key] = prof.drawImage(nx=nf, ny=nf, scale=self.scale / self.ovs).array
        return self._templates[key]

    def add(self, x: float, y: float, fluxes: dict[str, float], *, hlr_arcsec: float = 0.0, sersic: int = 0,
            e1: float = 0.0, e2: float = 0.0) -> None:
        """Add one object centred at pixel (x, y) (0-based) with ``fluxes`` per band (nanomaggies)."""
        hlr_index = -1 if hlr_arcsec <= 0 else int(np.argmin(np.abs(np.log(self._hlr_bank / hlr_arcsec))))
        e_index = int(np.argmin([(e1 - a) ** 2 + (e2 - b) ** 2 for a, b in self._e_bank]))
        fine = self._template(sersic, hlr_index, e_index)
        o = self.ovs
        n = fine.shape[0] // o - 2
        half = n // 2
        ix, iy = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        qx, qy = int(round((x - ix) * o)), int(round((y - iy) * o))
        sub = fine[o - qy: o - qy + n * o, o - qx: o - qx + n * o]
        stamp = sub.reshape(n, o, n, o).sum(axis=(1, 3))
        x0, y0 = ix - half, iy - half
        sx0, sy0 = max(0, -x0), max(0, -y0)
        sx1, sy1 = min(n, self.size - x0), min(n, self.size - y0)
        if sx0 >= sx1 or sy0 >= sy1:
            return
        cut = stamp[sy0:sy1, sx0:sx1]
        for b in self.bands:
            self.images[b][y0 + sy0: y0 + sy1, x0 + sx0: x0 + sx1] += fluxes[b] * cut


def _band_fluxes(mag_r: float, gr: float, ri: float) -> dict[str, float]:
    return {"g": float(flux_nmgy(mag_r + gr)), "r": float(flux_nmgy(mag_r)), "i": float(flux_nmgy(mag_r - ri)),
            "z": float(flux_nmgy(mag_r - ri - 0.3 * ri)), "u": float(flux_nmgy(mag_r + gr + 1.2 * gr))}


def _hlr_arcsec(abs_mag_r: np.ndarray, da_kpc: float) -> np.ndarray:
    """Early-type half-light radius: R_e = 4 kpc × 10^(−0.24 (M_r + 21.5)) (Shen et al. 2003 slope), seen at D_A."""
    re_kpc = 4.0 * 10 ** (-0.24 * (np.asarray(abs_mag_r) + 21.5))
    return np.degrees(re_kpc / da_kpc) * 3600.0


def simulate_field(cfg: SimulateDetectParams, *, cosmo, index: int, n_clusters: int, centre: tuple[float, float],
                   seed: int, clusters: list[tuple[float, float]] | None = None) -> SimField:
    """Simulate one field: ``n_clusters`` clusters (or the given (M200, z) pairs), field galaxies, stars, noise.

    Parameters
    ----------
    cfg : SimulateDetectParams
    cosmo : CosmologyParams
    index : int
        The field's number (truth rows carry it).
    n_clusters : int
        Clusters to place (ignored when ``clusters`` is given).
    centre : (ra, dec) in degrees
    seed : int
        The field's own seed.
    clusters : list of (m200_msun, z), optional
        Injected clusters with these masses and redshifts.

    Returns
    -------
    SimField
    """
    from skysieve.sim.cosmo import astropy_cosmology

    rng = np.random.default_rng(seed)
    acosmo = astropy_cosmology(cosmo)
    size = cfg.native_size_px // cfg.bin
    canvas = _Canvas(cfg, size)
    area_arcmin2 = (size * canvas.scale / 60.0) ** 2
    cc = cfg.cluster
    if clusters is None:
        clusters = [(10 ** rng.uniform(*cc.log_m200_range), rng.uniform(*cc.z_range)) for _ in range(n_clusters)]
    truth = []
    lo, hi = cfg.edge_margin_frac * (size - 1), (1 - cfg.edge_margin_frac) * (size - 1)
    for k, (m200, z) in enumerate(clusters):
        h = halo(m200, z, cosmo=cosmo, astropy_cosmo=acosmo, concentration_model=cc.concentration_model)
        da_kpc = float(acosmo.angular_diameter_distance(z).to_value("kpc"))
        x, y = rng.uniform(lo, hi, 2)
        mean_n = cc.richness_at_1e14 * (m200 / 1e14) ** cc.richness_slope
        richness = int(np.clip(round(mean_n * 10 ** rng.normal(0, cc.richness_scatter_dex)), *cc.richness_range))
        gr0, ri0 = red_sequence_colours(z)
        bcg_mean = bcg_mean_abs_mag_r(m200, at_pivot=cc.bcg_abs_mag_r, slope=cc.bcg_mass_slope,
                                      pivot_m200=cc.bcg_pivot_m200)
        bcg_abs = rng.normal(bcg_mean, cc.bcg_scatter_mag)
        bcg_mag = float(apparent_mag_r(bcg_abs, z, astropy_cosmo=acosmo, evolution_q=cc.evolution_q))
        canvas.add(x, y, _band_fluxes(bcg_mag, gr0, ri0), hlr_arcsec=float(_hlr_arcsec(bcg_abs, da_kpc)), sersic=4,
                   e1=rng.normal(0, 0.1), e2=rng.normal(0, 0.1))
        offsets = sample_nfw_projected(richness - 1, c=h.concentration, rng=rng) * h.r200_arcsec / canvas.scale
        abs_mags = np.maximum(sample_schechter(richness - 1, mstar=cc.mstar_abs_mag_r, alpha=cc.schechter_alpha,
                                               faint=cc.faint_limit_abs_mag_r, rng=rng), bcg_abs + 0.3)
        mags = apparent_mag_r(abs_mags, z, astropy_cosmo=acosmo, evolution_q=cc.evolution_q)
        hlr = _hlr_arcsec(abs_mags, da_kpc)
        for (dx, dy), m, r_e in zip(offsets, mags, hlr, strict=True):
            if m > cfg.faint_mag_r + 0.5:
                continue
            canvas.add(x + dx, y + dy, _band_fluxes(m, gr0 + rng.normal(0, cc.colour_scatter_mag),
                                                    ri0 + rng.normal(0, cc.colour_scatter_mag)),
                       hlr_arcsec=float(r_e), sersic=4, e1=rng.normal(0, 0.15), e2=rng.normal(0, 0.15))
        half = np.degrees(cfg.box_half_kpc / da_kpc) * 3600.0 / canvas.scale
        truth.append({"cluster_id": index * 100 + k, "field": index, "x_px": x, "y_px": y, "z": z,
                      "m200_msun": m200, "r200_kpc": h.r200_kpc, "concentration": h.concentration,
                      "r200_arcsec": h.r200_arcsec, "richness": richness, "bcg_mag_r": bcg_mag,
                      "box_x0": max(-0.5, x - half), "box_y0": max(-0.5, y - half),
                      "box_x1": min(size - 0.5, x + half), "box_y1": min(size - 0.5, y + half)})
    # field galaxies: 30 % early types at random redshift (red-sequence interlopers), the rest blue
    n_gal = rng.poisson(cfg.field_galaxies_per_arcmin2 * area_arcmin2)
    mags = _mags_from_counts(n_gal, bright=16.0, faint=cfg.faint_mag_r, slope=0.35, rng=rng)
    for m in mags:
        x, y = rng.uniform(-0.5, size - 0.5, 2)
        red = rng.random() < 0.3
        if red:
            gr, ri = red_sequence_colours(rng.uniform(0.05, 0.5))
            gr, ri = gr + rng.normal(0, 0.08), ri + rng.normal(0, 0.06)
        else:
            gr, ri = rng.normal(0.45, 0.15), rng.normal(0.25, 0.08)
        hlr = max(0.2, 1.2 * 10 ** (-0.15 * (m - 20)) * 10 ** rng.normal(0, 0.15))
        canvas.add(x, y, _band_fluxes(m, gr, ri), hlr_arcsec=hlr, sersic=4 if red else 1,
                   e1=rng.normal(0, 0.2), e2=rng.normal(0, 0.2))
    n_star = rng.poisson(cfg.stars_per_arcmin2 * area_arcmin2)
    for m in _mags_from_counts(n_star, bright=14.0, faint=cfg.faint_mag_r, slope=0.2, rng=rng):
        x, y = rng.uniform(-0.5, size - 0.5, 2)
        gr = rng.uniform(0.3, 1.4)
        canvas.add(x, y, _band_fluxes(m, gr, 0.4 * gr - 0.05 + rng.normal(0, 0.05)))
    sigma = {b.name: sky_sigma_nmgy(b.depth_mag, fwhm_arcsec=cfg.psf_fwhm_arcsec,
                                    pixel_arcsec=cfg.native_pixel_arcsec) * cfg.bin for b in cfg.bands}
    images = {b: (canvas.images[b] + rng.normal(0, sigma[b], (size, size))).astype(np.float32) for b in canvas.bands}
    return SimField(index, float(centre[0]), float(centre[1]), images, sigma, truth)
