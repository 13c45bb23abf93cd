"""The ``sz`` search: galaxy clusters in multi-band millimetre maps (Lin et al. 2021, DeepSZ).

Simulated 90/148/219 GHz skies (the :mod:`skysieve.sim` library), 8′
cutouts with spatial splits, a matched filter (the :mod:`skysieve.mf`
library), a small ResNet, MF+CNN ensembles, and catalogs over new maps.
Everything the engine needs from the search is on :class:`SzSearch`; see
``docs/architecture.md`` for the contract and ``README.md`` for the stages.
"""

from collections.abc import Mapping

from skysieve.tasks import Search, SectionSpec, Stage

__all__ = ["SzSearch", "search"]



class SzSearch(Search):
    """DeepSZ's cluster search: matched filter, CNN and their ensembles on mm-wave maps."""

    name = "sz"
    title = "galaxy clusters in millimetre (SZ) maps: matched filter, CNN, MF+CNN ensembles"
    paper = "lin2021-deepsz-mf-cnn-ensemble.txt"
    commands_module = "skysieve.tasks.sz._commands"
    catalog_module = "skysieve.tasks.sz._catalog_cli"
    doc = "docs/catalog.md"

    def sections(self) -> tuple[SectionSpec, ...]:
        """cmb_spectrum, simulate_sz, cutouts_sz, validate_sz, mf_sz, tune_sz, train_sz, evaluate_sz, ensemble_sz,
        register_sz."""
        from skysieve.config import (
            CmbSpectrumParams,
            EnsembleParams,
            EvaluateParams,
            MfParams,
            SimulateSzParams,
            TrainParams,
            TuneParams,
            ValidateParams,
        )
        from skysieve.tasks.sz.params import CutoutsSzParams, RegisterParams

        return (
            SectionSpec("cmb_spectrum", CmbSpectrumParams),
            SectionSpec("simulate_sz", SimulateSzParams),
            SectionSpec("cutouts_sz", CutoutsSzParams),
            SectionSpec("validate_sz", ValidateParams),
            SectionSpec("mf_sz", MfParams),
            SectionSpec("tune_sz", TuneParams),
            SectionSpec("train_sz", TrainParams),
            SectionSpec("evaluate_sz", EvaluateParams),
            SectionSpec("ensemble_sz", EnsembleParams),
            SectionSpec("register_sz", RegisterParams),
        )

    def stages(self) -> tuple[Stage, ...]:
        """The ten DVC stages from the CMB spectrum to the registered ensemble."""
        return (
            Stage("cmb_spectrum", "simulate", "cmb-spectrum", ("cosmology", "cmb_spectrum")),
            Stage("simulate_sz", "simulate", "sz", ("cosmology", "simulate_sz")),
            Stage("cutouts_sz", "cutouts", "sz", ("cutouts_sz",)),
            Stage("validate_sz", "validate", "sz",
                  ("validate_sz", "simulate_sz.bands", "simulate_sz.patch.pixel_arcmin", "cutouts_sz.size_arcmin")),
            Stage("mf_sz", "mf", "sz",
                  ("mf_sz", "simulate_sz.bands", "cosmology.Tcmb0_k", "cutouts_sz.central_arcmin")),
            Stage("tune_sz", "tune", "sz", ("tune_sz", "train_sz")),
            Stage("train_sz", "train", "sz", ("train_sz",)),
            Stage("evaluate_sz", "evaluate", "sz", ("evaluate_sz",)),
            Stage("ensemble_sz", "ensemble", "sz", ("ensemble_sz", "evaluate_sz")),
            Stage("register_sz", "register", "sz", ("register_sz", "simulate_sz.bands", "mf_sz", "cutouts_sz")),
        )

    def model_names(self, params) -> tuple[str, ...]:
        """The CNN and the ensemble (``register_sz``)."""
        return (params.register_sz.cnn_model_name, params.register_sz.ensemble_model_name)

    def recognizes(self, tags: Mapping[str, str]) -> bool:
        """Ensembles registered before the task tag carry the SZ catalog config."""
        from skysieve.tasks.sz._catalog_config import CATALOG_CONFIG_TAG

        return CATALOG_CONFIG_TAG in tags

    def gallery_score(self, table) -> str | None:
        """The ensemble's rank product (the catalog's order)."""
        return "rank_product" if "rank_product" in table.colnames else super().gallery_score(table)

    def gallery_thumbnails(self, rows, images, *, size_px):
        """One blue–red panel per mm map, labelled with its frequency, the side of a CNN tile."""
        from skysieve.tasks.sz._gallery import gallery_thumbnails

        return gallery_thumbnails(rows, images, size_px=size_px)


#: The instance the ``skysieve.tasks`` entry point names.
search = SzSearch()
