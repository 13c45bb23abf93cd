"""The ``detect`` search: galaxy clusters in wide optical fields (Chan & Stott's Deep-CEE).

SDSS-like g, r, i fields with 0–3 clusters (galsim, colossus, astropy),
a centre-heatmap detector trained through the engine on dense targets,
Chan & Stott's scoring (100 kpc matching, Table 2, KS bias tests) with COCO
mAP beside it, survey catalogs over large images in overlapping windows, and
injection–recovery completeness.  Documented in ``docs/detect.md``.
"""

from collections.abc import Mapping
from types import MappingProxyType

from skysieve.tasks import Search, SectionSpec, Stage

__all__ = ["DetectSearch", "search"]


class DetectSearch(Search):
    """Chan & Stott (2019): Deep-CEE cluster detection in wide colour images."""

    name = "detect"
    title = "galaxy clusters in wide SDSS-like g r i fields: centre-heatmap detector (Deep-CEE)"
    paper = "chan-stott-deep-cee-cluster-detection.txt"
    commands_module = "skysieve.tasks.detect._commands"
    catalog_module = "skysieve.tasks.detect._catalog"
    doc = "docs/detect.md"
    #: ``train_detect.monitor: detect.detection_f1``: best-threshold detection F1 at 100 kpc on the validation fields
    validation_metrics = MappingProxyType({"detection_f1": "skysieve.tasks.detect.selection:detection_f1_score"})

    def sections(self) -> tuple[SectionSpec, ...]:
        """simulate, cutouts, validate, tune, train, evaluate, register and inject sections of ``detect``."""
        from skysieve.config import TrainParams, TuneParams, ValidateParams
        from skysieve.tasks.detect._learning_params import (
            detect_train_defaults,
            detect_tune_defaults,
            detect_validate_defaults,
        )
        from skysieve.tasks.detect.params import (
            CutoutsDetectParams,
            EvaluateDetectParams,
            InjectDetectParams,
            RegisterDetectParams,
            SimulateDetectParams,
        )

        return (
            SectionSpec("simulate_detect", SimulateDetectParams),
            SectionSpec("cutouts_detect", CutoutsDetectParams),
            SectionSpec("validate_detect", ValidateParams, detect_validate_defaults, merge_defaults=True),
            SectionSpec("tune_detect", TuneParams, detect_tune_defaults, merge_defaults=True),
            SectionSpec("train_detect", TrainParams, detect_train_defaults, merge_defaults=True),
            SectionSpec("evaluate_detect", EvaluateDetectParams),
            SectionSpec("register_detect", RegisterDetectParams),
            SectionSpec("inject_detect", InjectDetectParams),
        )

    def stages(self) -> tuple[Stage, ...]:
        """From the simulated fields to the registered detector and its injection–recovery completeness."""
        return (
            Stage("simulate_detect", "simulate", "detect", ("cosmology", "simulate_detect")),
            Stage("cutouts_detect", "cutouts", "detect",
                  ("cutouts_detect", "simulate_detect.bands", "cosmology", "evaluate_detect.match_kpc",
                   "evaluate_detect.min_score", "evaluate_detect.max_detections", "evaluate_detect.peak_window_px",
                   "evaluate_detect.nms_z")),
            Stage("validate_detect", "validate", "detect",
                  ("validate_detect", "simulate_detect.bands", "simulate_detect.native_size_px",
                   "simulate_detect.bin", "simulate_detect.cluster.z_range",
                   "simulate_detect.cluster.log_m200_range", "simulate_detect.cluster.richness_range")),
            Stage("tune_detect", "tune", "detect", ("tune_detect", "train_detect")),
            Stage("train_detect", "train", "detect", ("train_detect",)),
            Stage("evaluate_detect", "evaluate", "detect",
                  ("evaluate_detect", "cosmology", "simulate_detect.native_pixel_arcsec", "simulate_detect.bin",
                   "cutouts_detect.output_stride")),
            Stage("register_detect", "register", "detect",
                  ("register_detect", "cosmology", "simulate_detect", "cutouts_detect", "validate_detect",
                   "tune_detect", "train_detect", "evaluate_detect", "inject_detect")),
            Stage("inject_detect", "inject", "detect",
                  ("inject_detect", "cosmology", "simulate_detect", "cutouts_detect", "evaluate_detect")),
        )

    def model_names(self, params) -> tuple[str, ...]:
        """The detector (``register_detect.model_name``)."""
        return (params.register_detect.model_name,)

    def recognizes(self, tags: Mapping[str, str]) -> bool:
        """Detectors carry the ``detect.window_px`` catalog tag."""
        return "detect.window_px" in tags


#: The instance the ``skysieve.tasks`` entry point names.
search = DetectSearch()
