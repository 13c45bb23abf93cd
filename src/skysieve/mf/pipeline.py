"""The ``mf_sz`` stage in one call: clean sources, filter, find, match and score cutouts."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from skysieve.config import BandParams, MfParams
from skysieve.data.maps import SkyMaps, band_name
from skysieve.errors import ConfigError, DataError
from skysieve.mf.filter import MatchedFilter, default_scales
from skysieve.mf.match import cutout_scores, match_detections
from skysieve.mf.noise import MapNoise, ModelNoise, NoiseEstimator
from skysieve.mf.sources import clean_sources, detect_sources

__all__ = ["MfResult", "build_matched_filter", "build_noise", "run_mf_sz"]


def _model_noise(params: MfParams, bands: Sequence[BandParams], cmb_cl: Table | None) -> NoiseEstimator:
    if cmb_cl is None:
        raise ConfigError("noise_model = 'model' needs the CMB spectrum (pass --cl with the table of "
                          "`skysieve simulate cmb-spectrum`), or set noise_model: maps in the matched-filter section")
    return ModelNoise(white_noise_uk_arcmin={band_name(b.freq_ghz): b.noise_uk_arcmin for b in bands},
                      ps_d3000_uk2=params.ps_d3000_uk2, cmb_cl=cmb_cl, sz_d3000_uk2=params.sz_d3000_uk2,
                      sz_ref_freq_ghz=params.sz_ref_freq_ghz, ksz_d3000_uk2=params.ksz_d3000_uk2)


def _map_noise(params: MfParams, bands: Sequence[BandParams], cmb_cl: Table | None) -> NoiseEstimator:
    return MapNoise(ell_bin_width=params.ell_bin_width, smooth_fraction=params.smooth_fraction)


#: ``mf_sz.noise_model`` → builder of its noise estimator.
NOISE_BUILDERS = {"model": _model_noise, "maps": _map_noise}


def build_noise(params: MfParams, *, bands: Sequence[BandParams], cmb_cl: Table | None = None) -> NoiseEstimator:
    """The noise estimator named by ``params.noise_model``.

    Parameters
    ----------
    params : MfParams
    bands : sequence of BandParams
        The instrument (``simulate_sz.bands``): frequencies and white-noise levels.
    cmb_cl : Table, optional
        CMB spectrum (``ell``, ``cl_tt`` in µK²); required by the model.
    """
    return NOISE_BUILDERS[params.noise_model](params, bands, cmb_cl)


def build_matched_filter(params: MfParams, *, bands: Sequence[BandParams], cmb_cl: Table | None = None,
                         tcmb_k: float = 2.7255) -> MatchedFilter:
    """A :class:`MatchedFilter` configured by the ``mf_sz`` section and the instrument's bands."""
    return MatchedFilter(
        beam_fwhm_arcmin={band_name(b.freq_ghz): b.beam_fwhm_arcmin for b in bands},
        noise=build_noise(params, bands=bands, cmb_cl=cmb_cl),
        theta_c_arcmin=default_scales(n_scales=params.n_scales, theta_c_min_arcmin=params.theta_c_min_arcmin,
                                      theta_c_max_arcmin=params.theta_c_max_arcmin),
        truncate_theta_c=params.truncate_theta_c,
        snr_threshold=params.snr_threshold,
        centroid_core_fraction=params.centroid_core_fraction,
        deblend_prominence=params.deblend_prominence,
        tcmb_k=tcmb_k,
    )


@dataclass
class MfResult:
    """What the ``mf_sz`` stage produces.

    Attributes
    ----------
    detections : Table
        One row per detection (see :meth:`MatchedFilter.detections`) with
        ``halo_id``, ``halo_sep_arcmin`` and ``cutout_id`` from the matching.
    scores : Table
        One row per cutout, in the cutout catalog's order: ``id``, ``mf_snr``
        and the detection it holds (see :func:`~skysieve.mf.match.cutout_scores`;
        position-only assignment), plus ``mf_snr_truth`` and
        ``mf_detected_truth`` from the truth-assisted assignment (for comparison).
    sources : Table or None
        In ``find`` mode, the sources found in the maps.
    summary : dict
        Counts and per-scale figures for a metrics file.
    """

    detections: Table
    scores: Table
    sources: Table | None = None
    summary: dict = field(default_factory=dict)


def run_mf_sz(maps: SkyMaps, *, params: MfParams, bands: Sequence[BandParams], cutouts: Table, central_px: int,
              halos: Table | None = None, sources: Table | None = None, cmb_cl: Table | None = None,
              tcmb_k: float = 2.7255) -> MfResult:
    """Run the matched filter over ``maps`` and score every cutout.

    Steps: point sources brighter than ``params.flux_cut_mjy`` (from
    ``sources``, or found with :func:`detect_sources` when ``params.sources
    == "find"``) are subtracted or masked; the filter is fitted on the
    cleaned maps and gives ``n_scales`` SNR maps; groups above
    ``params.snr_threshold`` become detections (none inside masked holes); detections are matched to
    ``halos`` and cutouts (DeepSZ §2.3) and every cutout gets ``mf_snr`` (position-only
    assignment: the highest SNR of the detections in its central region) and
    ``mf_snr_truth`` (truth-assisted: a matched detection counts for the cutout of its halo).

    Parameters
    ----------
    maps : SkyMaps
        Band maps, µK_CMB, with frequencies.
    params : MfParams
    bands : sequence of BandParams
        The instrument (beams, white noise), e.g. ``simulate_sz.bands``.
    cutouts : Table
        The cutout catalog (``id``, ``x0``, ``y0``, ``size_px``).
    central_px : int
        Side of a cutout's central region, pixels.
    halos : Table, optional
        Truth catalog; without it every detection goes to the cutout holding it.
    sources : Table, optional
        Point-source catalog (``catalog`` mode).
    cmb_cl : Table, optional
        CMB spectrum (``model`` noise).
    tcmb_k : float

    Returns
    -------
    MfResult

    Raises
    ------
    DataError
        If ``catalog`` mode has no source catalog, or a band is unknown to ``bands``.
    """
    mf = build_matched_filter(params, bands=bands, cmb_cl=cmb_cl, tcmb_k=tcmb_k)
    mf.check_bands(maps)
    found = None
    if params.sources == "find":
        found = detect_sources(maps, beam_fwhm_arcmin=mf.beam_fwhm_arcmin, noise=mf.noise,
                               snr_threshold=params.source_snr_threshold)
        sources = found
    elif sources is None:
        raise DataError("mf_sz.sources = 'catalog' but no source catalog was given; pass the simulation's "
                        "sources.fits or set mf_sz.sources: find")
    cleaned = clean_sources(maps, sources, treatment=params.source_treatment, flux_cut_mjy=params.flux_cut_mjy,
                            beam_fwhm_arcmin=mf.beam_fwhm_arcmin, mask_radius_arcmin=params.mask_radius_arcmin)
    snr = mf.fit_transform(cleaned.maps)
    if cleaned.mask is not None:
        snr[:, cleaned.mask] = 0.0  # inpainted holes hold no data: no detections, no score there
    detections = mf.detections(snr)
    matched = match_detections(detections, cutouts, wcs=maps.wcs, central_px=central_px, halos=halos,
                               mass_column=params.match_mass_column, radius_arcmin=params.match_radius_arcmin)
    peak_map = snr.max(axis=0)
    scores = cutout_scores(matched, cutouts, peak_snr_map=peak_map, central_px=central_px,
                           snr_threshold=params.snr_threshold, assignment="position")
    truth_scores = cutout_scores(matched, cutouts, peak_snr_map=peak_map, central_px=central_px,
                                 snr_threshold=params.snr_threshold, assignment="truth")
    scores["mf_snr_truth"] = truth_scores["mf_snr"]  # the truth-assisted assignment, for comparison only
    scores["mf_detected_truth"] = truth_scores["mf_detected"]
    sub = snr[:, ::4, ::4]  # the robust spread of the SNR maps, on a subsample
    mad = np.median(np.abs(sub - np.median(sub, axis=(1, 2), keepdims=True)), axis=(1, 2))
    summary = {
        "bands": list(maps.bands),
        "noise_model": params.noise_model,
        "sources": params.sources,
        "source_treatment": params.source_treatment,
        "n_sources_treated": cleaned.n_treated,
        "n_detections": len(matched),
        "n_matched": int(np.count_nonzero(np.asarray(matched["halo_id"]) >= 0)),
        "n_cutouts": len(scores),
        "n_cutouts_detected": int(np.count_nonzero(scores["mf_detected"])),
        "n_cutouts_detected_truth_assisted": int(np.count_nonzero(scores["mf_detected_truth"])),
        "theta_c_arcmin": [float(t) for t in mf.theta_c_arcmin],
        "sigma_y_arcmin2": [float(s) for s in mf.sigma_],
        "snr_robust_std": [float(v) for v in 1.4826 * mad],
    }
    return MfResult(detections=matched, scores=scores, sources=found, summary=summary)
