"""The ``morphology`` search: galaxy morphology by transfer learning (Pérez-Carrasco et al. 2019).

Two galsim-rendered surveys — a CANDELS-like source (F160W, 0.06″/px) and a
CLASH-like target (16 bands, crowded cluster fields) — with soft labels from
simulated annotators; the Table 1 Inception-style net pre-trained on the
source, registered, and fine-tuned from its registered version with a frozen
depth and learning-rate ratio chosen by Optuna; the paper's learning-curve
and frozen-depth experiments; and a per-band catalog of class
probabilities.  Documented in ``docs/morphology.md``.
"""

from skysieve.tasks import Search, SectionSpec, Stage

__all__ = ["MorphologySearch", "search"]


class MorphologySearch(Search):
    """Pérez-Carrasco et al. (2019): CANDELS → CLASH morphologies by fine-tuning an Inception-style net."""

    name = "morphology"
    title = "galaxy morphology by transfer learning (CANDELS → CLASH): Inception-style net on vote fractions"
    paper = "perez-carrasco2019-clash-morphology-transfer.txt"
    doc = "docs/morphology.md"
    commands_module = "skysieve.tasks.morphology._commands"
    catalog_module = "skysieve.tasks.morphology._catalog_cli"

    def sections(self) -> tuple[SectionSpec, ...]:
        """simulate, validate, pretrain, finetune, experiments, evaluate and register sections."""
        from skysieve.tasks.morphology import params as m

        return (
            SectionSpec("simulate_morphology", m.SimulateMorphologyParams),
            SectionSpec("validate_morphology", m.ValidateMorphologyParams),
            SectionSpec("pretrain_morphology", m.PretrainMorphologyParams),
            SectionSpec("finetune_morphology", m.FinetuneMorphologyParams),
            SectionSpec("experiments_morphology", m.ExperimentsMorphologyParams),
            SectionSpec("evaluate_morphology", m.EvaluateMorphologyParams),
            SectionSpec("register_morphology", m.RegisterMorphologyParams),
        )

    def stages(self) -> tuple[Stage, ...]:
        """Seven stages from the simulated surveys to the registered fine-tuned model."""
        return (
            Stage("simulate_morphology", "simulate", "morphology", ("simulate_morphology",)),
            Stage("validate_morphology", "validate", "morphology",
                  ("validate_morphology", "simulate_morphology.stamp_px", "simulate_morphology.source.band",
                   "simulate_morphology.target.bands")),
            Stage("pretrain_morphology", "pretrain", "morphology",
                  ("pretrain_morphology", "evaluate_morphology", "register_morphology.source_model_name")),
            Stage("finetune_morphology", "finetune", "morphology", ("finetune_morphology", "pretrain_morphology")),
            Stage("experiments_morphology", "experiments", "morphology",
                  ("experiments_morphology", "finetune_morphology", "pretrain_morphology")),
            Stage("evaluate_morphology", "evaluate", "morphology", ("evaluate_morphology",)),
            Stage("register_morphology", "register", "morphology",
                  ("register_morphology.model_name", "finetune_morphology", "simulate_morphology.target.bands")),
        )

    def model_names(self, params) -> tuple[str, ...]:
        """The source-survey model and the fine-tuned model."""
        return (params.register_morphology.source_model_name, params.register_morphology.model_name)


#: The instance the ``skysieve.tasks`` entry point names.
search = MorphologySearch()
