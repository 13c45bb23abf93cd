"""The multi-band simulated SZ sky: every component summed, beamed and noised.

For each band ν (µK_CMB, before the beam):

.. math:: \\Delta T_\\nu = \\Delta T_{\\rm CMB} + T_0 f(x_\\nu)\\, y + T_0\\, b_{\\rm kSZ}
          + S^{\\rm radio}_\\nu + S^{\\rm IR}_\\nu + s(\\nu)\\, D,

with :math:`T_0` the CMB temperature, :math:`y` the Compton-y map,
:math:`b_{\\rm kSZ} = \\Delta T/T_0` of the kSZ, :math:`S` the point sources,
:math:`D` the dust template and :math:`s(\\nu)` its spectrum;
then :math:`\\Delta T_\\nu \\to B_\\nu * \\Delta T_\\nu + n_\\nu`.  Each component has its own
random stream spawned from ``seed`` by :class:`numpy.random.SeedSequence` in a
fixed order, so switching one component off leaves the others' realisations
unchanged, and the same seed gives bit-identical maps.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack
from astropy.wcs import WCS
from pixell import enmap, utils

from skysieve._io import atomic_path
from skysieve.config import CmbSpectrumParams, CosmologyParams, PatchParams, SimulateSzParams
from skysieve.data.maps import band_name, write_map
from skysieve.sim.cluster_sources import with_cluster_sources
from skysieve.sim.cmb import cmb_map, compute_cmb_spectrum
from skysieve.sim.dust import dust_frequency_scaling, dust_map
from skysieve.sim.halos import sample_halos
from skysieve.sim.instrument import apply_beam, white_noise
from skysieve.sim.ksz import ksz_map
from skysieve.sim.sources import SOURCE_POPULATIONS, empty_source_table, sample_sources, source_map
from skysieve.sim.survey import footprint_mask, one_over_f_noise, relative_weight, tan_geometry, to_tan
from skysieve.sim.tsz import tsz_frequency_factor, tsz_map

__all__ = ["COMPONENT_STREAMS", "SimulatedSky", "make_geometry", "simulate_sky", "write_sky"]

COMPONENT_STREAMS = ("halos", "cmb", "radio", "ir", "dust", "noise", "survey", "cluster_sources")
"""Order in which per-component seeds are spawned from the simulation seed (never reorder; append only:
a SeedSequence's n-th child is the same however many are spawned)."""


@dataclass(frozen=True)
class SimulatedSky:
    """A simulated multi-band patch and its truth catalogues.

    Attributes
    ----------
    maps : ndarray of shape (nband, ny, nx), float32
        µK_CMB, one map per band, beamed and with noise; NaN outside the
        footprint when ``simulate_sz.survey.footprint`` is on.
    wcs : astropy.wcs.WCS
        CAR geometry shared by every band (TAN with ``survey.projection: tan``).
    freqs_ghz : tuple of float
        Band centres, in the order of ``maps``.
    halos : astropy.table.Table
        Every halo of the light cone (:func:`skysieve.sim.sample_halos`), whether
        or not the SZ components are on.
    sources : astropy.table.Table
        The point sources that are in the maps (enabled populations only), with
        ``flux_<band>_mjy`` per band; ``source_id`` is unique across populations.
    """

    maps: np.ndarray
    wcs: WCS
    freqs_ghz: tuple[float, ...]
    halos: Table
    sources: Table
    weights: np.ndarray | None = None
    """Inverse-variance weight per band and pixel, µK⁻² (0 outside the footprint); only with a survey feature on."""

    @property
    def bands(self) -> tuple[str, ...]:
        """Band names, e.g. ``("90GHz", "148GHz", "219GHz")``."""
        return tuple(band_name(f) for f in self.freqs_ghz)


def make_geometry(patch: PatchParams) -> tuple[tuple[int, int], WCS]:
    """The CAR pixel grid of a patch.

    Parameters
    ----------
    patch : PatchParams
        Centre (``ra_center_deg``, ``dec_center_deg``), ``width_deg`` ×
        ``height_deg`` and ``pixel_arcmin``.

    Returns
    -------
    shape : tuple of int
        ``(ny, nx)``, e.g. (1680, 1680) for 7° at 0.25′.
    wcs : astropy.wcs.WCS
        CAR projection with RA increasing to the left (``CDELT1 < 0``); pixel
        centres are aligned with pixell's standard grid (within half a pixel
        of the requested corners).
    """
    ra0, dec0 = patch.ra_center_deg, patch.dec_center_deg
    half_w, half_h = patch.width_deg / 2.0, patch.height_deg / 2.0
    pos = np.array([[dec0 - half_h, ra0 + half_w], [dec0 + half_h, ra0 - half_w]]) * utils.degree
    shape, wcs = enmap.geometry(pos=pos, res=patch.pixel_arcmin * utils.arcmin, proj="car")
    return (int(shape[-2]), int(shape[-1])), wcs


def simulate_sky(cfg: SimulateSzParams, cosmo: CosmologyParams, *, cl: Table | None,
                 seed: int | np.random.SeedSequence) -> SimulatedSky:
    """Simulate the multi-band mm-wave sky of DeepSZ §1 on a flat patch.

    Parameters
    ----------
    cfg : SimulateSzParams
        Patch, bands (frequency, beam FWHM, noise depth), component switches and
        the parameters of each component.
    cosmo : CosmologyParams
    cl : astropy.table.Table or None
        Lensed CMB spectrum (``ell``, ``cl_tt`` µK²) from
        :func:`skysieve.sim.compute_cmb_spectrum`; ``None`` computes it with
        ``CmbSpectrumParams()`` defaults (ℓ ≤ 8000, ~17 s) when the CMB is on.
    seed : int or numpy.random.SeedSequence
        Root seed; component streams are spawned from it in the order of
        :data:`COMPONENT_STREAMS` (noise: one further stream per band).  A
        :class:`~numpy.random.SeedSequence` is used as the root itself (a patch's
        child of the run seed, :func:`skysieve.sim.patch_seed`).

    Returns
    -------
    SimulatedSky
        float32 maps in µK_CMB and the halo and source catalogues.

    Notes
    -----
    The default 7° × 7° patch (3 × 1680² pixels, ~2040 haloes, ~38 000
    sources) takes 5–10 s on a shared 2-core machine, mostly painting the halo
    profiles twice (tSZ, kSZ) and the FFTs (CMB, dust, one beam per band);
    peak memory is ~0.65 GB including a CAMB run to ℓ = 8000.
    """
    shape, wcs = make_geometry(cfg.patch)
    on = cfg.components
    # A fresh copy of a given SeedSequence: spawning advances its child counter, and a rerun must see the same.
    root = (np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
            if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed))
    streams = dict(zip(COMPONENT_STREAMS, root.spawn(len(COMPONENT_STREAMS)), strict=True))
    freqs = tuple(float(b.freq_ghz) for b in cfg.bands)
    tcmb_uk = cosmo.Tcmb0_k * 1e6

    halos = sample_halos(shape, wcs, cfg.halos, cosmo, seed=streams["halos"], tsz=cfg.tsz, ksz=cfg.ksz)

    # Components common to every band (µK_CMB, except y).
    common = enmap.zeros(shape, wcs, dtype=np.float64)
    if on.cmb:
        spectrum = cl if cl is not None else compute_cmb_spectrum(cosmo, CmbSpectrumParams())
        common += cmb_map(shape, wcs, spectrum, seed=streams["cmb"])
    if on.ksz:
        common += tcmb_uk * ksz_map(shape, wcs, halos, cosmo, cfg.tsz)
    y_map = tsz_map(shape, wcs, halos, cfg.tsz) if on.tsz else None
    dust = dust_map(shape, wcs, cfg.dust, seed=streams["dust"]) if on.dust else None

    catalogs = [
        sample_sources(shape, wcs, getattr(cfg, pop), seed=streams[pop], population=pop, freqs_ghz=freqs)
        for pop in SOURCE_POPULATIONS if getattr(on, pop)
    ]
    sources = vstack(catalogs, metadata_conflicts="silent") if catalogs else empty_source_table(freqs)
    sources["source_id"] = np.arange(len(sources), dtype=np.int64)
    sources.meta = {"POPS": ",".join(pop for pop in SOURCE_POPULATIONS if getattr(on, pop))}
    if cfg.cluster_sources.enabled:  # appended after the field sources: their ids and draws are unchanged
        sources = with_cluster_sources(sources, shape, wcs, halos, cfg, seed=streams["cluster_sources"])

    noise_streams = streams["noise"].spawn(len(cfg.bands))
    sv = cfg.survey
    out_shape, out_wcs = tan_geometry(cfg.patch) if sv.projection == "tan" else (shape, wcs)
    mask, rel = None, None
    if sv.active:
        layout = streams["survey"].spawn(2)
        mask = (footprint_mask(out_shape, sv, pixel_arcmin=cfg.patch.pixel_arcmin, seed=layout[0])
                if sv.footprint else np.ones(out_shape, bool))
        rel = relative_weight(out_shape, sv, pixel_arcmin=cfg.patch.pixel_arcmin, seed=layout[1], mask=mask)
    maps = np.empty((len(cfg.bands),) + tuple(out_shape), dtype=np.float32)
    weights = np.zeros(maps.shape, dtype=np.float32) if sv.active else None
    for k, band in enumerate(cfg.bands):
        sky = common.copy()
        if y_map is not None:
            sky += tcmb_uk * tsz_frequency_factor(band.freq_ghz, tcmb_k=cosmo.Tcmb0_k) * y_map
        if len(sources):
            sky += source_map(shape, wcs, sources, freq_ghz=band.freq_ghz, tcmb_k=cosmo.Tcmb0_k)
        if dust is not None:
            sky += dust_frequency_scaling(band.freq_ghz, ref_freq_ghz=cfg.dust.ref_freq_ghz, beta=cfg.dust.beta,
                                          temperature_k=cfg.dust.temperature_k, tcmb_k=cosmo.Tcmb0_k) * dust
        if on.beam:
            sky = apply_beam(sky, band.beam_fwhm_arcmin)
        if not sv.active:
            if on.noise:
                sky += white_noise(shape, wcs, band.noise_uk_arcmin, seed=noise_streams[k])
            maps[k] = sky
            continue
        if sv.projection == "tan":
            sky = to_tan(sky, out_shape, out_wcs)
        if on.noise:
            white = white_noise(out_shape, out_wcs, band.noise_uk_arcmin, seed=noise_streams[k])
            sky = sky + one_over_f_noise(white, out_wcs, ell_knee=sv.ell_knee, alpha=sv.alpha_knee) / np.sqrt(rel)
        pixel_arcmin2 = np.asarray(enmap.pixsizemap(out_shape, out_wcs, broadcastable=True)) * utils.arcmin**-2
        inv_var = pixel_arcmin2 / band.noise_uk_arcmin**2 if band.noise_uk_arcmin > 0 else 1.0  # at weight 1, µK⁻²
        weights[k] = np.where(mask, rel * inv_var, 0.0)
        maps[k] = np.where(mask, sky, np.nan)
    return SimulatedSky(maps=maps, wcs=out_wcs, freqs_ghz=freqs, halos=halos, sources=sources, weights=weights)


def write_sky(sky: SimulatedSky, outdir: str | Path) -> list[Path]:
    """Write the maps and catalogues of a simulated sky, each file atomically.

    Parameters
    ----------
    sky : SimulatedSky
    outdir : str or Path
        Created if missing.

    Returns
    -------
    list of Path
        ``sky_<band>.fits`` per band (``FREQ`` in GHz, ``BUNIT = 'uK_CMB'``),
        then ``weight_<band>.fits`` per band when the sky has weight maps
        (``BUNIT = 'uK^-2'``), then ``halos.fits`` and ``sources.fits`` (FITS
        binary tables with units).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for image, freq in zip(sky.maps, sky.freqs_ghz, strict=True):
        written.append(write_map(outdir / f"sky_{band_name(freq)}.fits", image, sky.wcs, freq_ghz=freq,
                                 bunit="uK_CMB"))
    if sky.weights is not None:
        for image, freq in zip(sky.weights, sky.freqs_ghz, strict=True):
            written.append(write_map(outdir / f"weight_{band_name(freq)}.fits", image, sky.wcs, freq_ghz=freq,
                                     bunit="uK^-2"))
    for name, table in (("halos.fits", sky.halos), ("sources.fits", sky.sources)):
        path = outdir / name
        with atomic_path(path) as tmp:
            table.write(tmp, format="fits")
        written.append(path)
    return written
