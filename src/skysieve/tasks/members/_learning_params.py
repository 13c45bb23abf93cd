"""Params of the members learning stages: ``tune_members``, ``train_members``, ``evaluate_members``,
``register_members``.

``tune_members`` and ``train_members`` are the engine's :class:`TuneParams`
and :class:`TrainParams` with the members defaults; the network is the
engine's ``vgg`` (Angora et al. 2020, Table B.1: 3×3 convolutions +
LeakyReLU, 2×2 max-pools, two dense layers with dropout) at a narrow width
(``net.filters``) so the default pipeline fits two CPU cores;
``params/paper_members.yaml`` is the paper's size (64 → 512 filters, 4096
dense units, Adadelta, batches of 64, 10 folds).
"""

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from skysieve.config import SearchDimension, Section, TrainParams, TuneParams, ValidateParams, increasing_edges

__all__ = [
    "MembersEvaluateParams",
    "MembersRegisterParams",
    "members_train_defaults",
    "members_tune_defaults",
    "members_validate_defaults",
]


def members_train_defaults() -> TrainParams:
    """The default ``train_members``: a narrow paper VGG, batch 64, early stopping + plateau schedule.

    Five blocks of one 3×3 convolution (8 → 64 filters) instead of the
    paper's 2-2-4-4-3 convolutions of 64 → 512 filters, 64 dense units
    instead of 4096; stratified k-fold by class over the training split
    (the paper's protocol, clusters mixed in every fold), 15 % of training
    cutouts replaced by a flip or right-angle rotation (paper App. A.1).
    Adam instead of the paper's Adadelta: on two CPU cores and 20 epochs
    Adadelta (lr 1) reached a validation ROC-AUC of 0.76 where the random
    forest reached 0.87 (docs/members.md); the paper profile keeps Adadelta.
    """
    return TrainParams.model_validate({
        "net": {"name": "vgg", "filters": 8, "max_filters": 64, "blocks": 5, "convs_per_block": 1,
                "dense_units": 64, "dropout": 0.3, "negative_slope": 0.3, "input_stretch": "asinh",
                "stretch_softening": 1.0, "stretch_ring_frac": 1.0},
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "schedule": {"early_stopping_patience": 5, "reduce_lr_patience": 3, "reduce_lr_factor": 0.5},
        "augment": {"fraction": 0.15},
        "imbalance": {"strategy": "class_weight"},
        "batch_size": 64,
        "eval_batch_size": 256,
        "epochs": 20,
        "splitter": "stratified_kfold",
        "k_folds": 2,
        "metric": "roc_auc",
        "norm_sample": 512,
        "seed": 2020,
    })


def members_tune_defaults() -> TuneParams:
    """The default ``tune_members``: one trial over learning rate and augmentation (ROC-AUC objective)."""
    return TuneParams(n_trials=1, startup_trials=1, seed=2020, objective="roc_auc", search_space={
        "optimizer.learning_rate": SearchDimension(type="float", low=5e-4, high=2e-3, log=True),
        "augment.fraction": SearchDimension(type="float", low=0.0, high=0.3),
    })


def members_validate_defaults() -> ValidateParams:
    """The default ``validate_members``: a member rate of 0.3–0.6 (paper: 0.43), pixels well below 1e4 e⁻/s."""
    return ValidateParams(label_rate_min=0.3, label_rate_max=0.6, min_positives=10, max_abs_pixel_uk=1e4)


class MembersEvaluateParams(Section):
    """The ``evaluate_members`` stage: operating threshold, baselines and the bins of the paper's tables.

    The operating threshold of each method is the lowest on the threshold
    sample whose member purity reaches ``target_purity`` (the highest
    completeness at that purity); if none does, or the completeness there is
    below ``min_completeness`` (a purity reached only by the few most
    confident sources), the F1-best one.  With
    ``threshold_sample: val+oof`` the sample is the validation split plus
    the out-of-fold scores of the training split (≈ 8× the sources of the
    10 % hold-out, so the operating point does not rest on a handful of
    sources); the test split is never used.  Figures
    carry 95 % bootstrap intervals over the test sources (``n_bootstrap``
    resamples).  Per-bin rows: F814W magnitude (``mag_bins``), colour offset
    from each cluster's red sequence fitted robustly (``colour_offset_bins``,
    F814W − F160W as the paper's Table 2, ``colour_column``) and cluster
    redshift (``z_bins``, Table D.3 form).  The random forest runs on
    photutils aperture photometry in ``aperture_radii_arcsec``; the colour
    method is a Gaussian-mixture Bayes classifier per cluster.
    """

    target_purity: float = Field(0.88, gt=0, lt=1, description="the paper's mixed* member purity (Table D.1)")
    min_completeness: float = Field(0.5, ge=0, lt=1, description=(
        "below this completeness at the target purity, the F1-best threshold is used instead"))
    threshold_sample: Literal["val", "val+oof"] = Field("val+oof", description=(
        "where thresholds are chosen: the validation split, or it plus the out-of-fold scores of the training "
        "split (CNN: the engine's oof.fits through the ensemble's Platt scaling; baselines: 5-fold refits)"))
    n_bootstrap: int = Field(300, ge=20, le=100_000)
    seed: int = Field(15, ge=0)
    mag_column: str = Field("mag_F814W", min_length=1)
    colour_column: str = Field("colour_F814W_F160W", min_length=1)
    mag_bins: tuple[float, ...] = (18.0, 21.0, 22.0, 23.0, 24.5)
    colour_offset_bins: tuple[float, ...] = (-3.0, -0.16, 3.0)
    z_bins: tuple[float, ...] = (0.15, 0.3, 0.4, 0.5, 0.65)
    aperture_radii_arcsec: tuple[float, ...] = (0.2, 0.5)
    rf_trees: int = Field(300, ge=10, le=5000)
    gmm_components: int = Field(2, ge=1, le=6, description="mixture components per class and cluster")
    max_curve_points: int = Field(500, ge=10, le=100_000, description="rows per ROC CSV for dvc plots")

    @field_validator("mag_bins", "colour_offset_bins", "z_bins", "aperture_radii_arcsec")
    @classmethod
    def _edges(cls, v: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        return increasing_edges(info.field_name, v)


class MembersRegisterParams(Section):
    """The ``register_members`` stage: the registered model's name (alias ``candidate`` is set on registering)."""

    model_name: str = Field("skysieve-members-cnn", min_length=1)

    @field_validator("model_name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError(f"model_name must be letters, digits, '.', '_' or '-' (got {v!r})")
        return v
