"""The matched filter: the classical SZ cluster finder, the baseline and one half of the ensemble.

A multi-frequency matched filter (Herranz et al. 2002; Melin et al. 2006) for
projected beta-model clusters at several core radii, with the band-by-band
noise covariance from a model or from the maps, point-source subtraction or
masking (from a catalog, or detected in the maps), peak finding, and the
DeepSZ (Lin et al. 2021, §2.3) rules that match detections to halos and
cutouts.  See ``docs/matched_filter.md``.
"""

from skysieve.mf._scan import ScanNoise, destripe
from skysieve.mf.filter import MatchedFilter, beta_template, default_scales, invert_noise
from skysieve.mf.match import assign_to_cutouts, cutout_scores, match_detections, match_to_halos
from skysieve.mf.noise import MapNoise, ModelNoise, NoiseEstimator, NoiseSpectra
from skysieve.mf.peaks import detection_catalog, find_peaks
from skysieve.mf.pipeline import MfResult, build_matched_filter, build_noise, run_mf_sz
from skysieve.mf.sources import (
    CleanedMaps,
    check_source_catalog,
    clean_sources,
    detect_sources,
    inpaint_harmonic,
    read_source_catalog,
)

__all__ = [
    "CleanedMaps",
    "MapNoise",
    "MatchedFilter",
    "MfResult",
    "ModelNoise",
    "NoiseEstimator",
    "NoiseSpectra",
    "ScanNoise",
    "assign_to_cutouts",
    "beta_template",
    "build_matched_filter",
    "build_noise",
    "check_source_catalog",
    "clean_sources",
    "cutout_scores",
    "default_scales",
    "destripe",
    "detect_sources",
    "detection_catalog",
    "find_peaks",
    "inpaint_harmonic",
    "invert_noise",
    "match_detections",
    "match_to_halos",
    "read_source_catalog",
    "run_mf_sz",
]
