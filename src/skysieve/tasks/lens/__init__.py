"""The ``lens`` search: galaxy-scale strong lenses among cluster members (Angora et al. 2023).

HST-like F435W/F606W/F814W cutouts of cluster members with lensed Sérsic
sources injected with lenstronomy, hard negatives, VGG / SC-VGG classifiers
and the paper's tables (Tables A.1–A.5), and catalogs over new cutouts or
images.  Everything the engine needs from the search is on
:class:`LensSearch`; the search is documented in ``docs/lens.md``.
"""

from collections.abc import Mapping

from skysieve.tasks import Search, SectionSpec, Stage

__all__ = ["LensSearch", "search"]



class LensSearch(Search):
    """Angora et al. (2023): galaxy-scale lenses in cluster fields with VGG / SC-VGG."""

    name = "lens"
    title = "galaxy-scale strong lenses in HST cluster fields: VGG / SC-VGG"
    paper = "angora2023-galaxy-scale-lenses-in-clusters.txt"
    commands_module = "skysieve.tasks.lens._commands"
    catalog_module = "skysieve.tasks.lens._catalog_cli"
    doc = "docs/lens.md"

    def sections(self) -> tuple[SectionSpec, ...]:
        """simulate_lens, cutouts_lens, validate_lens, tune_lens, train_lens, evaluate_lens, register_lens."""
        from skysieve.config import TrainParams, TuneParams, ValidateParams
        from skysieve.tasks.lens._learning_params import (
            LensEvaluateParams,
            LensRegisterParams,
            lens_train_defaults,
            lens_tune_defaults,
            lens_validate_defaults,
        )
        from skysieve.tasks.lens.params import CutoutsLensParams, SimulateLensParams

        return (
            SectionSpec("simulate_lens", SimulateLensParams),
            SectionSpec("cutouts_lens", CutoutsLensParams),
            SectionSpec("validate_lens", ValidateParams, lens_validate_defaults),
            SectionSpec("tune_lens", TuneParams, lens_tune_defaults, merge_defaults=True),
            SectionSpec("train_lens", TrainParams, lens_train_defaults, merge_defaults=True),
            SectionSpec("evaluate_lens", LensEvaluateParams),
            SectionSpec("register_lens", LensRegisterParams),
        )

    def stages(self) -> tuple[Stage, ...]:
        """The seven DVC stages from the simulated cutouts to the registered classifier."""
        return (
            Stage("simulate_lens", "simulate", "lens", ("cosmology", "simulate_lens")),
            Stage("cutouts_lens", "cutouts", "lens", ("cutouts_lens",)),
            Stage("validate_lens", "validate", "lens",
                  ("validate_lens", "simulate_lens.size_px", "simulate_lens.bands", "simulate_lens.reference_band",
                   "simulate_lens.members.theta_e_range_arcsec", "simulate_lens.sources.mag_range",
                   "simulate_lens.sources.dz_min", "cutouts_lens.channels")),
            Stage("tune_lens", "tune", "lens", ("tune_lens", "train_lens")),
            Stage("train_lens", "train", "lens", ("train_lens",)),
            Stage("evaluate_lens", "evaluate", "lens", ("evaluate_lens",)),
            Stage("register_lens", "register", "lens",
                  ("register_lens", "cosmology", "simulate_lens", "cutouts_lens", "validate_lens", "tune_lens",
                   "train_lens", "evaluate_lens")),
        )

    def model_names(self, params) -> tuple[str, ...]:
        """The classifier (``register_lens.model_name``)."""
        return (params.register_lens.model_name,)

    def recognizes(self, tags: Mapping[str, str]) -> bool:
        """Classifiers registered before the task tag carry the lens catalog config."""
        from skysieve.tasks.lens._catalog_config import LENS_CATALOG_CONFIG_TAG

        return LENS_CATALOG_CONFIG_TAG in tags


#: The instance the ``skysieve.tasks`` entry point names.
search = LensSearch()
