"""The ``morphology`` search's params sections (Pérez-Carrasco et al. 2019).

One frozen, ``extra="forbid"`` model per DVC stage: ``simulate_morphology``
(the two surveys and the annotators), ``pretrain_morphology`` (the net and
the source-survey fit), ``finetune_morphology`` (transfer from a registered
version: frozen depth, learning-rate ratio, the Optuna study),
``experiments_morphology`` (learning curve and frozen-depth curve),
``evaluate_morphology`` and ``register_morphology``.  The defaults fit a
2-core machine; ``params/paper_morphology.yaml`` scales them to the paper.
"""

from typing import Literal

from pydantic import Field, field_validator

from skysieve.config import Section

__all__ = [
    "CLASSES",
    "AnnotatorParams",
    "AugmentMorphologyParams",
    "BandParams",
    "EvaluateMorphologyParams",
    "ExperimentsMorphologyParams",
    "FinetuneMorphologyParams",
    "InceptionParams",
    "PretrainMorphologyParams",
    "RegisterMorphologyParams",
    "SimulateMorphologyParams",
    "SourceSurveyParams",
    "TargetSurveyParams",
    "ValidateMorphologyParams",
    "clash_bands",
]

#: The CANDELS main morphological classes (Kartaltepe et al. 2015), in output order.
CLASSES = ("spheroid", "disk", "irregular", "point_source", "unclassifiable")


class BandParams(Section):
    """One filter of the target survey: its PSF, pixel scale and depth.

    ``depth_mag`` is the 5σ point-source limiting AB magnitude in a
    0.4″-diameter aperture; the sky noise per pixel follows from it.
    """

    name: str
    wavelength_um: float = Field(gt=0)
    psf_fwhm_arcsec: float = Field(gt=0)
    pixel_scale_arcsec: float = Field(gt=0)
    depth_mag: float


def clash_bands() -> tuple[BandParams, ...]:
    """The 16 CLASH filters: UVIS/ACS at 0.03″/px, WFC3-IR at 0.065″/px; UV shallow, IR PSF wide."""
    rows = [  # name, λ (µm), PSF FWHM (″), pixel (″), 5σ depth (AB)
        ("F225W", 0.24, 0.08, 0.03, 25.6), ("F275W", 0.27, 0.08, 0.03, 25.7), ("F336W", 0.34, 0.08, 0.03, 26.0),
        ("F390W", 0.39, 0.08, 0.03, 26.4), ("F435W", 0.43, 0.10, 0.03, 26.6), ("F475W", 0.47, 0.10, 0.03, 27.0),
        ("F606W", 0.59, 0.10, 0.03, 27.2), ("F625W", 0.63, 0.10, 0.03, 26.8), ("F775W", 0.77, 0.10, 0.03, 26.6),
        ("F814W", 0.81, 0.10, 0.03, 27.0), ("F850LP", 0.90, 0.11, 0.03, 26.3), ("F105W", 1.06, 0.13, 0.065, 26.9),
        ("F110W", 1.15, 0.13, 0.065, 27.3), ("F125W", 1.25, 0.14, 0.065, 26.9), ("F140W", 1.39, 0.15, 0.065, 26.9),
        ("F160W", 1.54, 0.16, 0.065, 26.9),
    ]
    return tuple(BandParams(name=n, wavelength_um=w, psf_fwhm_arcsec=f, pixel_scale_arcsec=p, depth_mag=d)
                 for n, w, f, p, d in rows)


class AnnotatorParams(Section):
    """The simulated visual classifiers whose votes make the soft labels.

    Each annotator sees the true class through a confusion that worsens with
    low S/N (→ unclassifiable), small size against the PSF (→ point source /
    spheroid) and inclination (edge-on disks → spheroid), scaled by their own
    ``skill``; vote fractions over ``n`` annotators are the labels.
    """

    n: int = Field(5, ge=5, description="annotators per image (the paper: at least five)")
    skill_range: tuple[float, float] = Field((0.6, 1.0), description="per-annotator skill, uniform; 1 = expert")
    base_error: float = Field(0.08, ge=0, lt=0.5, description="confusion rate of an expert on a bright, large image")
    snr_half: float = Field(8.0, gt=0, description="S/N at which half the votes go to unclassifiable")
    size_psf_half: float = Field(1.2, gt=0, description="r_e / PSF FWHM at which half the votes call it compact")
    edge_on_weight: float = Field(0.45, ge=0, le=1, description="share of edge-on disk votes that go to spheroid")


class SourceSurveyParams(Section):
    """CANDELS-like source survey: one band (F160W, 0.06″/px), deeper than the target."""

    n: int = Field(1000, ge=10, description="labelled source stamps (the paper: ~7500)")
    band: BandParams = BandParams(name="F160W", wavelength_um=1.54, psf_fwhm_arcsec=0.18, pixel_scale_arcsec=0.06,
                                  depth_mag=27.8)
    mag_range: tuple[float, float] = Field((19.0, 24.5), description="F160W AB magnitudes (the paper's H < 24.5)")
    neighbours_mean: float = Field(0.0, ge=0, description="mean Poisson number of field neighbours per stamp "
                                   "(CANDELS stamps are not isolated; the target's cluster crowding is denser)")


class TargetSurveyParams(Section):
    """CLASH-like target survey: every galaxy in 16 bands, cluster crowding, a labelled subset."""

    n_galaxies: int = Field(40, ge=2, description="galaxies, each imaged in every band")
    labelled_per_band: int = Field(30, ge=1, description="labelled images per band (the paper: 100)")
    bands: tuple[BandParams, ...] = Field(default_factory=clash_bands)
    mag_range: tuple[float, float] = Field((19.0, 24.5), description="F160W AB magnitudes")
    neighbours_mean: float = Field(1.2, ge=0, description="mean cluster neighbours within a stamp (Poisson)")


class SimulateMorphologyParams(Section):
    """``simulate_morphology``: both surveys, stamps cut at 4 Petrosian radii and resampled, votes, splits."""

    source: SourceSurveyParams = SourceSurveyParams()
    target: TargetSurveyParams = TargetSurveyParams()
    annotators: AnnotatorParams = AnnotatorParams()
    class_fractions: tuple[float, float, float, float, float] = Field(
        (0.28, 0.34, 0.16, 0.08, 0.14), description=f"true-class fractions in order {CLASSES}")
    re_range_arcsec: tuple[float, float] = Field((0.12, 0.7), description="half-light radii, log-uniform")
    stamp_px: int = Field(80, ge=16, description="stamp side after resampling (the paper: 80)")
    petrosian_factor: float = Field(4.0, gt=0, description="stamp side in Petrosian radii (the paper: 4)")
    petrosian_eta: float = Field(0.2, gt=0, lt=1, description="Petrosian ratio defining r_P")
    folding_threshold: float = Field(0.03, gt=0, lt=0.2, description="galsim's folding_threshold: the flux "
                                     "fraction allowed to wrap around the FFT grid (sets the grid's size); 0.03 keeps "
                                     "every clean image within 0.2 sky σ of a 1e-3 draw")
    val_frac: float = Field(0.15, gt=0, lt=0.5)
    test_frac: float = Field(0.2, gt=0, lt=0.5)
    workers: int = Field(0, ge=0, description="rendering processes (0: one per core); the stamps do not depend on it")
    seed: int = 16

    @field_validator("class_fractions")
    @classmethod
    def _sum_to_one(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if abs(sum(v) - 1.0) > 1e-6 or min(v) < 0:
            raise ValueError(f"class_fractions must be ≥ 0 and sum to 1 (got {list(v)}, sum {sum(v):.4f})")
        return v


class ValidateMorphologyParams(Section):
    """``validate_morphology``: tolerances of the great-expectations suite."""

    vote_sum_tolerance: float = Field(1e-4, gt=0, description="|Σ vote fractions − 1| allowed")
    max_abs_pixel: float = Field(1e3, gt=0, description="peak-normalised pixels beyond this are corrupt")


class InceptionParams(Section):
    """Pérez-Carrasco et al. (2019) Table 1: two convolutions, six inception modules, dense 1024-1024-5.

    ``width`` multiplies every filter count (1 = the paper's ~5.5 M
    parameters); ``dense_units`` is the paper's 1024 at full size.
    """

    name: Literal["inception_morphology"] = "inception_morphology"
    width: float = Field(0.125, gt=0, le=2, description="filter multiplier (paper: 1.0)")
    dense_units: int = Field(128, ge=4, description="units of each hidden dense layer (paper: 1024)")
    dropout: float = Field(0.5, ge=0, lt=1)
    batchnorm_modules: int = Field(3, ge=0, le=6, description="batch-normalise the layers before this inception")
    bn_momentum: float = Field(0.9, gt=0, lt=1, description="batch-norm moving-average momentum (Keras: 0.99); "
                               "a few hundred steps need 0.9 or the inference statistics lag the weights")


class AugmentMorphologyParams(Section):
    """Training-set augmentation: continuous rotations, flips, integer shifts (the paper's perturbations)."""

    rotate: bool = True
    flip: bool = True
    shift_px: int = Field(4, ge=0)


class PretrainMorphologyParams(Section):
    """``pretrain_morphology``: the net trained from scratch on the source survey (Adam, cross-entropy)."""

    net: InceptionParams = InceptionParams()
    learning_rate: float = Field(2e-3, gt=0, description="Adam (paper: 5e-5 at full width over ~7500 stamps)")
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(10, ge=1)
    patience: int = Field(4, ge=1, description="epochs without a better validation loss before stopping")
    augment: AugmentMorphologyParams = AugmentMorphologyParams()
    seed: int = 7


class FinetuneMorphologyParams(Section):
    """``finetune_morphology``: transfer from a registered source version, Optuna over depth and learning rate."""

    source_model: str = Field("models:/morphology-source@candidate",
                              description="registered pre-trained version (models:/NAME@ALIAS or models:/NAME/V)")
    frozen_depth: int = Field(0, ge=0, description="conv blocks frozen from the input (0 … 8)")
    lr_ratio: float = Field(0.5, gt=0, description="fine-tune learning rate / pre-train learning rate")
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    patience: int = Field(4, ge=1)
    n_trials: int = Field(3, ge=0, description="Optuna trials over frozen depth and lr_ratio (0: use the params)")
    pruner: Literal["median", "none"] = Field("median", description="stop a trial at an epoch where its best "
                                              "validation RMSE so far is worse than the finished trials' median "
                                              "there (Optuna's MedianPruner), or never")
    warmup_epochs: int = Field(2, ge=0, description="0-based epoch from whose end a trial can be pruned (every "
                               "trial runs at least warmup_epochs + 1 epochs)")
    depth_choices: tuple[int, ...] = (0, 2, 5, 8)
    lr_ratio_range: tuple[float, float] = (0.1, 1.0)
    temperature: bool = Field(True, description="fit a softmax temperature on the validation split and bake it "
                              "into the fine-tuned network (Guo et al. 2017)")
    seed: int = 9


class ExperimentsMorphologyParams(Section):
    """``experiments_morphology``: RMSE vs labelled-set size (scratch vs fine-tuned) and vs frozen depth."""

    sizes: tuple[int, ...] = Field((40, 100, 250), description="labelled training images (paper: 50 … 1000)")
    repeats: int = Field(3, ge=1, description="random training subsets per size (paper: 10)")
    frozen_depths: tuple[int, ...] = (0, 2, 5, 8)
    depth_repeats: int = Field(2, ge=1, description="repeats per frozen depth (paper: 20)")
    depth_size: int = Field(0, ge=0, description="labelled images per frozen-depth fit (0: the largest size)")
    epochs: int = Field(8, ge=1, description="epochs of the largest subsets (at least ``min_steps`` steps each)")
    min_steps: int = Field(0, ge=0, description="optimiser steps every fit gets at least (small subsets: more epochs)")
    workers: int = Field(0, ge=0, description="processes running the fits at once (0: one per core); the results "
                         "do not depend on it")
    fit_threads: int = Field(1, ge=1, description="TensorFlow threads of each fit's process; the results depend on "
                             "it (last bits), the fastest on a shared CPU is 1 per process")
    seed: int = 23


class EvaluateMorphologyParams(Section):
    """``evaluate_morphology``: bootstrap intervals, calibration bins, thresholds of the paper's Figs. 9–11."""

    n_bootstrap: int = Field(500, ge=10)
    calibration_bins: int = Field(10, ge=2)
    confident_vote: float = Field(0.75, gt=0, le=1, description="vote fraction defining a confident label (Fig. 10)")
    thresholds: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    seed: int = 3


class RegisterMorphologyParams(Section):
    """Registered model names: the source-survey model and the fine-tuned target model."""

    source_model_name: str = "morphology-source"
    model_name: str = "morphology-cnn"
