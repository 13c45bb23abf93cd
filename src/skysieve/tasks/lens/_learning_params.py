"""Params of the lens learning stages: ``tune_lens``, ``train_lens``, ``evaluate_lens``, ``register_lens``.

``tune_lens`` and ``train_lens`` are the engine's own :class:`TuneParams` and
:class:`TrainParams`; only their defaults are the lens ones
(:func:`lens_train_defaults`, :func:`lens_tune_defaults`).  The defaults keep
the default pipeline fast on two CPU cores; ``docs/lens.md`` gives the
paper profile (Angora et al. 2023, §2: SC-VGG, stratified 10-fold CV,
Adadelta, batches of 16).
"""

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from skysieve.config import (
    SearchDimension,
    Section,
    TrainParams,
    TuneParams,
    ValidateParams,
    increasing_edges,
)

__all__ = [
    "AdversarialParams",
    "LensEvaluateParams",
    "LensRegisterParams",
    "lens_train_defaults",
    "lens_tune_defaults",
    "lens_validate_defaults",
]


def lens_train_defaults() -> TrainParams:
    """The default ``train_lens``: a small VGG on the stretched bands and colour differences, 3 folds, 30 epochs.

    Five blocks of one 3×3 convolution and a 2×2 pool give a receptive field
    of 94 px, more than the 80-px cutout, so the last feature map sees a
    whole Einstein ring (:func:`skysieve.nets.receptive_field_px`); every
    channel is stretched by its own noise (:class:`skysieve.nets.AsinhStretch`)
    instead of one global mean and variance, under which a 1σ arc is 0.02 of
    the unit scale.  σ is the MAD of the outer ring (``stretch_noise:
    ring_mad``): the noise of adjacent-pixel differences (``ring_diff``),
    which a bright member's halo does not inflate, measured no better on
    the default set (out-of-fold ROC-AUC 0.901 against 0.911, docs/lens.md).

    The colour-difference images (:class:`skysieve.nets.ColourDifference`)
    take the lens light out, which the small CPU-sized networks cannot learn
    to do from 2000 cutouts (docs/lens.md, "Networks and training"). Sized
    so that ``tune_lens`` + ``train_lens`` take a few minutes on two CPU
    cores; the paper profile is an SC-VGG, 10 folds, more filters, more epochs.
    """
    return TrainParams.model_validate({
        "net": {"name": "vgg", "filters": 8, "max_filters": 64, "blocks": 5, "convs_per_block": 1,
                "dense_units": 32, "dropout": 0.3, "colour_difference": True, "colour_aperture_px": 3.0,
                "input_stretch": "asinh", "stretch_softening": 1.0, "stretch_ring_frac": 1.0,
                "stretch_noise": "ring_mad"},
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "schedule": {"early_stopping_patience": 10, "reduce_lr_patience": 4},
        "augment": {"fraction": 0.5},
        "imbalance": {"strategy": "class_weight"},
        "batch_size": 32,
        "eval_batch_size": 256,
        "epochs": 30,
        "splitter": "group_kfold",
        "k_folds": 3,
        "metric": "roc_auc",
        "norm_sample": 512,
        "seed": 2023,
    })


def _lens_space() -> dict[str, SearchDimension]:
    return {
        "optimizer.learning_rate": SearchDimension(type="float", low=3e-4, high=3e-3, log=True),
        "net.filters": SearchDimension(type="int", low=4, high=12, step=4),
        "augment.fraction": SearchDimension(type="float", low=0.0, high=0.5),
    }


def lens_validate_defaults() -> ValidateParams:
    """The default ``validate_lens``: a label rate of 0.5–0.8, pixels in electron/s well below 1e4."""
    return ValidateParams(label_rate_min=0.5, label_rate_max=0.8, min_positives=1, max_abs_pixel_uk=1e4)


def lens_tune_defaults() -> TuneParams:
    """The default ``tune_lens``: one trial over learning rate, filters and augmentation, ROC-AUC objective.

    One trial, not two: the second trial of the earlier default (4 filters,
    out-of-fold ROC-AUC 0.85 against 0.91) cost half of the lens stages'
    CPU time, which the 80-px cutouts now spend instead.  With the study's
    seed the one trial is the sampler's first random draw; ``n_trials`` > 1
    resumes the search where a budget allows.
    """
    return TuneParams(n_trials=1, startup_trials=2, seed=2023, objective="roc_auc", search_space=_lens_space())


class AdversarialParams(Section):
    """Which lenses are "adversarial" (Angora et al. 2023, Table A.1, the starred columns).

    Faint sources and small Einstein radii give lenses with no visible
    lensing feature; the paper re-evaluates with them left out.  A lens is
    adversarial if its source is fainter than ``source_mag_min`` and/or its
    θ_E is below ``theta_e_max_arcsec`` (``combine``: ``any`` = or, ``all`` =
    and).  Non-lenses are always kept.
    """

    source_mag_min: float = Field(28.0, description="source magnitude (source_mag_column) above which a lens is faint")
    theta_e_max_arcsec: float = Field(0.5, gt=0, description="Einstein radius below which a lens is small")
    combine: Literal["any", "all"] = "any"


class LensEvaluateParams(Section):
    """The ``evaluate_lens`` stage: operating thresholds, column names and bins (Angora et al. 2023, §4).

    Four thresholds are always reported: ``fixed`` (the paper's 0.5 on the
    calibrated probability), ``crossing`` (where purity equals completeness on
    the validation split, paper Fig. 11), ``f1`` (F1-maximising on
    validation) and ``balanced`` (purity = completeness on validation
    reweighted to equal class priors: lens completeness = non-lens
    completeness, :func:`~skysieve.tasks.lens.evaluate.balanced_threshold`,
    the default); ``operating_point`` names the one the registered model
    carries as ``threshold.cnn`` and the FN/FP tables use.  Column names are
    those of the lens cutout catalog (``docs/lens.md``); ``*_cuts`` give the
    rows of Tables A.4/A.5 (``< c`` and ``>= c`` per cut), ``*_bins`` the
    histograms of Figs. 8/9.
    """

    fixed_threshold: float = Field(0.5, gt=0, lt=1, description="the paper's probability threshold")
    operating_point: Literal["fixed", "crossing", "f1", "balanced"] = "balanced"
    fold_threshold: float = Field(0.5, gt=0, lt=1, description="threshold on each fold model's raw probability")
    source_mag_column: str = Field("src_mag_f814w", min_length=1)
    theta_e_column: str = Field("theta_e_arcsec", min_length=1)
    source_z_column: str = Field("src_z", min_length=1)
    arc_snr_column: str = Field("arc_snr", min_length=1, description="the lensed source's matched-filter SNR")
    lens_mag_column: str = Field("lens_mag_f814w", min_length=1)
    lens_colour_column: str = Field("lens_colour", min_length=1, description="F606W - F814W of the central galaxy")
    normalise_colour: bool = Field(True, description="subtract the red sequence fitted per colour_group_column")
    colour_group_column: str | None = Field("cluster", min_length=1, description="fit one red sequence per value")
    source_mag_bins: tuple[float, ...] = (22.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0)
    theta_e_bins_arcsec: tuple[float, ...] = (0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.5)
    source_z_bins: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0)
    arc_snr_bins: tuple[float, ...] = (0.0, 3.0, 6.0, 10.0, 20.0, 50.0, 200.0, 1e6)
    lens_mag_bins: tuple[float, ...] = (16.0, 18.5, 19.5, 20.5, 21.5, 22.5, 24.5)
    lens_colour_bins: tuple[float, ...] = (-2.0, -0.7, -0.5, -0.3, -0.1, 0.1, 0.3)
    source_mag_cuts: tuple[float, ...] = (27.0, 28.0)
    theta_e_cuts_arcsec: tuple[float, ...] = (0.5,)
    source_z_cuts: tuple[float, ...] = (3.0, 4.0, 5.0)
    arc_snr_cuts: tuple[float, ...] = (6.0, 20.0)
    lens_mag_cuts: tuple[float, ...] = (19.5,)
    lens_colour_cuts: tuple[float, ...] = (-0.5,)
    adversarial: AdversarialParams = AdversarialParams()
    max_curve_points: int = Field(1000, ge=10, le=100_000, description="rows per curve CSV for dvc plots")
    gallery_size: int = Field(16, ge=0, le=100, description="cutouts per gallery of worst FPs / FNs (PNG)")
    bootstrap_resamples: int = Field(1000, ge=0, le=100_000,
                                     description="resamples behind every 95 % interval of Table A.1; 0 = none")
    bootstrap_seed: int = Field(0, ge=0, description="seed of the bootstrap resamples (same seed, same intervals)")

    @field_validator("source_mag_bins", "theta_e_bins_arcsec", "source_z_bins", "arc_snr_bins", "lens_mag_bins",
                     "lens_colour_bins")
    @classmethod
    def _edges(cls, v: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        return increasing_edges(info.field_name, v)

    @field_validator("source_mag_cuts", "theta_e_cuts_arcsec", "source_z_cuts", "arc_snr_cuts", "lens_mag_cuts",
                     "lens_colour_cuts")
    @classmethod
    def _cuts(cls, v: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        if not v:
            raise ValueError(f"{info.field_name} needs at least one cut value")
        return v


class LensRegisterParams(Section):
    """The ``register_lens`` stage: the registered model's name (alias ``candidate`` is set on registering)."""

    model_name: str = Field("skysieve-lens-cnn", min_length=1)

    @field_validator("model_name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError(f"model_name must be letters, digits, '.', '_' or '-' (got {v!r})")
        return v
