"""The ``members`` search: cluster membership from multi-band HST cutouts (Angora et al. 2020).

Members and interlopers of 15 CLASH / Frontier Fields-like clusters rendered
with galsim in 12 HST bands (CWW templates through the real ACS and WFC3-IR
filter curves), labelled from a spectroscopic redshift (|v| ≤ 3000 km/s);
the paper's VGG against a random forest on aperture photometry and a
Gaussian-mixture colour method; catalogs of membership probabilities for
new cutouts.  Everything the engine needs is on :class:`MembersSearch`; the
search is documented in ``docs/members.md``.
"""

from collections.abc import Mapping

from skysieve.tasks import Search, SectionSpec, Stage

__all__ = ["MembersSearch", "search"]


class MembersSearch(Search):
    """Angora et al. (2020): cluster members from multi-band HST cutouts with a VGG."""

    name = "members"
    title = "cluster members from multi-band HST cutouts: VGG vs random forest and colour method"
    paper = "angora2020-cluster-members-hst-cnn.txt"
    commands_module = "skysieve.tasks.members._commands"
    catalog_module = "skysieve.tasks.members._catalog_cli"
    doc = "docs/members.md"

    def sections(self) -> tuple[SectionSpec, ...]:
        """simulate_members, cutouts_members, validate_members, tune_members, train_members, evaluate_members,
        register_members."""
        from skysieve.config import TrainParams, TuneParams, ValidateParams
        from skysieve.tasks.members._learning_params import (
            MembersEvaluateParams,
            MembersRegisterParams,
            members_train_defaults,
            members_tune_defaults,
            members_validate_defaults,
        )
        from skysieve.tasks.members.params import CutoutsMembersParams, SimulateMembersParams

        return (
            SectionSpec("simulate_members", SimulateMembersParams),
            SectionSpec("cutouts_members", CutoutsMembersParams),
            SectionSpec("validate_members", ValidateParams, members_validate_defaults),
            SectionSpec("tune_members", TuneParams, members_tune_defaults, merge_defaults=True),
            SectionSpec("train_members", TrainParams, members_train_defaults, merge_defaults=True),
            SectionSpec("evaluate_members", MembersEvaluateParams),
            SectionSpec("register_members", MembersRegisterParams),
        )

    def stages(self) -> tuple[Stage, ...]:
        """The seven DVC stages from the simulated cutouts to the registered classifier."""
        return (
            Stage("simulate_members", "simulate", "members", ("cosmology", "simulate_members")),
            Stage("cutouts_members", "cutouts", "members", ("cutouts_members",)),
            Stage("validate_members", "validate", "members",
                  ("validate_members", "simulate_members.size_px", "simulate_members.pixel_scale_arcsec",
                   "simulate_members.clusters", "simulate_members.velocity_cut_kms",
                   "cutouts_members.band_config")),
            Stage("tune_members", "tune", "members", ("tune_members", "train_members")),
            Stage("train_members", "train", "members", ("train_members",)),
            Stage("evaluate_members", "evaluate", "members", ("evaluate_members", "simulate_members.reference_band")),
            Stage("register_members", "register", "members",
                  ("register_members", "cosmology", "simulate_members", "cutouts_members", "validate_members",
                   "tune_members", "train_members", "evaluate_members")),
        )

    def model_names(self, params) -> tuple[str, ...]:
        """The classifier (``register_members.model_name``)."""
        return (params.register_members.model_name,)

    def recognizes(self, tags: Mapping[str, str]) -> bool:
        """Versions carrying the members band configuration tag."""
        return "members.band_config" in tags

    def gallery_score(self, table) -> str | None:
        """The membership probability: a gallery shows the likeliest members first and ``--max`` keeps them."""
        return "member_prob" if "member_prob" in table.colnames else super().gallery_score(table)


#: The instance the ``skysieve.tasks`` entry point names.
search = MembersSearch()
