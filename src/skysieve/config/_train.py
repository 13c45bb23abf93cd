"""Params of the training engine: ``train_<task>`` and ``tune_<task>`` sections.

The same two models serve every task (``train_sz``/``tune_sz`` now,
``train_lens``/``tune_lens`` later); only their values differ.
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from skysieve.config._base import Section

__all__ = [
    "AugmentParams",
    "CentreNetParams",
    "ImbalanceParams",
    "InputParams",
    "NetParams",
    "OptimizerParams",
    "ResNetSmallParams",
    "ScVggParams",
    "ScheduleParams",
    "SearchDimension",
    "TrainParams",
    "TuneParams",
    "VggParams",
]


class InputParams(Section):
    """Parameter-free preprocessing inside the model, before the standardisation (``nets.input_layers``).

    ``colour_difference`` appends, for every band b but the reference, the
    channel b − k_b · ref (:class:`skysieve.nets.ColourDifference`): with
    ``colour_ratio: aperture`` k_b is the ratio of the two bands' fluxes in a
    central aperture of ``colour_aperture_px`` — the lens light cancels
    (RingFinder); with ``unit`` k_b = 1 — in µK_CMB the CMB and kSZ are the
    same in every band and cancel, the tSZ decrement does not.
    ``input_stretch: asinh`` then stretches every channel by its own noise
    (:class:`skysieve.nets.AsinhStretch`) instead of standardising it — the
    bands and, with ``colour_difference``, the difference images, each with
    its own σ, estimated in the cutout's outer ring as chosen by
    ``stretch_noise``: ``ring_mad``, σ = 1.4826 · MAD of the ring's pixels,
    or ``ring_diff``, σ = 1.4826 · MAD(Δ)/√2 of the differences Δ of
    adjacent ring pixels, which the halo of a bright galaxy does not inflate.
    """

    name: str  # each architecture narrows it to its Literal; declared here so that it is written first
    colour_difference: bool = Field(False, description=(
        "append difference images b − k·ref that cancel the lens light or the CMB (nets.ColourDifference)"))
    colour_ratio: Literal["aperture", "unit"] = Field(
        "aperture", description="k from a central aperture (lens light) or k = 1 (CMB in µK_CMB)")
    colour_reference: int = Field(-1, description="channel index of the reference band")
    colour_aperture_px: float = Field(3.0, gt=0, description="radius of the central aperture that sets k, pixels")
    colour_keep_bands: bool = Field(True, description=(
        "false: the model sees the differences only, not the bands (for SZ: no CMB to memorise)"))
    input_stretch: Literal["none", "asinh"] = Field("none", description=(
        "asinh: y = asinh((x − median)/(a σ)) per cutout and channel, σ the noise of the outer ring "
        "(nets.AsinhStretch), in place of the global mean/variance scaling"))
    stretch_softening: float = Field(1.0, gt=0, description="asinh softening a, in units of the ring's σ")
    stretch_ring_frac: float = Field(1.0, ge=0, lt=1.42, description=(
        "the noise ring is r ≥ this × half the cutout side (1: the corners outside the inscribed circle)"))
    stretch_noise: Literal["ring_mad", "ring_diff"] = Field("ring_mad", description=(
        "σ of the stretch: ring_mad = 1.4826 MAD of the ring's pixels (a galaxy's halo across the ring inflates "
        "it); ring_diff = 1.4826 MAD(Δ)/√2 of the differences Δ of adjacent ring pixels (a smooth halo does not)"))


class ResNetSmallParams(InputParams):
    """DeepSZ's modified ResNet (Lin et al. 2021, §2.2.1).

    Two 3×3 stem convolutions (stride 1 then 2) and a max-pool, ``stages``
    bottleneck stages of ``blocks_per_stage`` blocks (bottleneck width
    ``width × 2**stage``, output ``expansion`` times wider), then two dense
    layers of ``dense_units`` and one sigmoid output. By default it also sees
    the CMB-free band differences 90 − 219 and 148 − 219 GHz
    (``colour_difference`` with ``colour_ratio: unit``; DeepSZ fed the raw
    bands: ``colour_difference: false``).
    """

    name: Literal["resnet_small"] = "resnet_small"
    colour_difference: bool = True
    colour_ratio: Literal["aperture", "unit"] = "unit"
    stem_filters: int = Field(16, ge=1, le=512)
    width: int = Field(8, ge=1, le=512, description="bottleneck filters of the first stage")
    expansion: int = Field(4, ge=1, le=8)
    stages: int = Field(3, ge=1, le=5)
    blocks_per_stage: int = Field(1, ge=1, le=8)
    dense_units: int = Field(256, ge=1, le=8192)
    dropout: float = Field(0.0, ge=0, lt=1)
    pooling: Literal["flatten", "avg"] = "flatten"


class VggParams(InputParams):
    """Angora et al. (2020) VGG-like network.

    ``blocks`` blocks of ``convs_per_block`` 3×3 convolutions + LeakyReLU and a
    2×2 max-pool; filters start at ``filters`` and double per block up to
    ``max_filters``; two dense layers of ``dense_units`` with dropout.
    """

    name: Literal["vgg"] = "vgg"
    filters: int = Field(16, ge=1, le=1024)
    max_filters: int = Field(512, ge=1, le=4096)
    blocks: int = Field(3, ge=1, le=6)
    convs_per_block: int = Field(2, ge=1, le=4)
    dense_units: int = Field(64, ge=1, le=8192)
    dropout: float = Field(0.5, ge=0, lt=1)
    negative_slope: float = Field(0.3, ge=0, lt=1)


class ScVggParams(VggParams):
    """Angora et al. (2023) SC-VGG: one :class:`VggParams` network per band, probabilities averaged."""

    name: Literal["sc_vgg"] = "sc_vgg"


class CentreNetParams(InputParams):
    """A centre-heatmap object detector (CenterNet: Zhou, Wang & Krähenbühl 2019) on dense targets.

    A convolutional encoder of ``levels`` stride-2 stages (``filters``
    doubling per stage up to ``max_filters``, ``convs_per_level`` 3×3
    convolutions + batch norm + ReLU each), ``context_convs`` dilated 3×3
    convolutions at the coarsest scale, then upsampling with skip connections
    back to ``output_stride``; heads give a sigmoid centre heatmap and the
    log box width and height (in output pixels).  Learns a dataset's dense
    targets (:mod:`skysieve.data.targets`, loss ``centre_heatmap``).
    """

    name: Literal["centre_net"] = "centre_net"
    filters: int = Field(16, ge=1, le=512)
    max_filters: int = Field(64, ge=1, le=1024)
    levels: int = Field(3, ge=1, le=6, description="stride-2 stages of the encoder")
    convs_per_level: int = Field(1, ge=1, le=4)
    context_convs: int = Field(2, ge=0, le=6, description="dilated convolutions at the coarsest scale")
    output_stride: int = Field(4, ge=1, le=32, description="input pixels per output pixel (a power of 2)")
    head_filters: int = Field(32, ge=1, le=512)
    prior: float = Field(0.05, gt=0, lt=1, description="initial heatmap probability (bias of the heatmap head)")


#: The architecture section; ``name`` selects the model class (and the builder in
#: :mod:`skysieve.nets`). A new architecture adds its section class here.
NetParams = Annotated[ResNetSmallParams | VggParams | ScVggParams | CentreNetParams, Field(discriminator="name")]


class OptimizerParams(Section):
    """Optimiser and linear learning-rate warm-up.

    DeepSZ: SGD, lr 5e-3, L2 weight decay 3e-3, warm-up from lr/3 over 500
    batches. Angora: Adadelta.
    """

    name: Literal["sgd", "adam", "adadelta"] = "adam"
    learning_rate: float = Field(3e-3, gt=0, le=10)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD only")
    weight_decay: float = Field(0.0, ge=0, lt=1)
    warmup_steps: int = Field(0, ge=0, description="batches of linear warm-up at the start of training")
    warmup_start_factor: float = Field(1 / 3, gt=0, le=1)


class ScheduleParams(Section):
    """Reduce-on-plateau and early stopping, both on the validation loss."""

    reduce_lr_patience: int = Field(3, ge=1)
    reduce_lr_factor: float = Field(0.5, gt=0, lt=1)
    min_learning_rate: float = Field(1e-6, ge=0)
    early_stopping_patience: int = Field(8, ge=1)


class AugmentParams(Section):
    """Dihedral augmentation of training batches (never validation or test).

    Each training cutout is replaced, with probability ``fraction``, by one of
    the 7 non-identity flips / right-angle rotations (Angora 2020: 15 %).
    """

    fraction: float = Field(0.15, ge=0, le=1)


class ImbalanceParams(Section):
    """Class-imbalance strategy.

    ``class_weight``: balanced class weights. ``oversample``: positives drawn
    so that the effective negative:positive ratio is ``ratio``. ``curriculum``
    (DeepSZ §2.2.2): train at each ratio of ``curriculum_ratios`` in turn, up
    to ``epochs`` epochs each with early stopping, keep the best weights per
    ratio and finally those best on the whole validation set.
    """

    strategy: Literal["none", "class_weight", "oversample", "curriculum"] = "class_weight"
    ratio: float = Field(1.0, gt=0, description="negative:positive ratio for 'oversample'")
    curriculum_ratios: tuple[float, ...] = Field((1.0, 2.0, 5.0, 10.0, 20.0), min_length=1)

    @model_validator(mode="after")
    def _ratios(self) -> "ImbalanceParams":
        if any(r <= 0 for r in self.curriculum_ratios):
            raise ValueError(f"curriculum_ratios must all be > 0 (got {list(self.curriculum_ratios)})")
        return self


class TrainParams(Section):
    """The ``train_<task>`` section: one CNN training recipe and its k-fold protocol.

    Folds split the ``train`` rows of the dataset (``splitter``); the ``val``
    rows drive early stopping, reduce-on-plateau, curriculum selection and
    Platt scaling; ``test`` rows are never read.

    ``fold_workers`` says how the folds run, not what they compute: with
    more than one, folds are fitted on spawned worker processes
    (:func:`skysieve.train.cross_validate`) and give the same models,
    scores and metrics as one after another. It is left out of checkpoint
    keys and study names (:data:`RUNTIME_KEYS`).
    """

    #: Keys that say how training runs, not what it computes (left out of checkpoint keys and study names).
    RUNTIME_KEYS: ClassVar[frozenset[str]] = frozenset({"fold_workers"})

    net: NetParams = Field(default_factory=ResNetSmallParams)
    optimizer: OptimizerParams = OptimizerParams()
    schedule: ScheduleParams = ScheduleParams()
    augment: AugmentParams = AugmentParams()
    imbalance: ImbalanceParams = ImbalanceParams()
    batch_size: int = Field(64, ge=1, le=8192)
    eval_batch_size: int = Field(512, ge=1, le=65536)
    epochs: int = Field(30, ge=1, le=10000, description="max epochs (per ratio with the curriculum)")
    steps_per_epoch: int | None = Field(None, ge=1, description="cap on batches per epoch; None = one pass")
    splitter: Literal["stratified_kfold", "group_kfold", "holdout"] = "group_kfold"
    k_folds: int = Field(3, ge=2, le=50, description="folds for the k-fold splitters")
    metric: Literal["pr_auc", "roc_auc", "f1"] = Field(
        "pr_auc", description="validation metric reported per epoch and used to pick the curriculum stage"
    )
    monitor: str = Field("val_loss", pattern=r"^(val_loss|[a-z][a-z0-9]*\.[a-z][a-z0-9_]*)$", description=(
        "what early stopping, the learning-rate plateau and the weights kept follow: 'val_loss' (validation "
        "log-loss, lower better) or '<search>.<metric>', a validation metric the search offers "
        "(Search.validation_metrics; higher better), logged per epoch as val_<metric>"))
    norm_sample: int = Field(1024, ge=16, description="training cutouts read to set per-channel input scaling")
    tta: bool = Field(False, description=(
        "test-time augmentation: the final model scores each (square) cutout in its 8 rotations and flips and "
        "averages the fold-mean probabilities; Platt scaling is fitted on the averaged validation scores"))
    store_inputs: bool = Field(False, description=(
        "apply the net's parameter-free input layers (colour differences, asinh stretch) once per cutout and "
        "train the rest of the net on the stored result, in memory (they commute with the rotations and flips "
        "of the augmentation; ~1.5x faster epochs for nets with a costly asinh stretch, equal to rounding; "
        "docs/training.md)"))
    seed: int = Field(2021, ge=0)
    experiment: str | None = Field(None, min_length=1, description="MLflow experiment name; default the task name")
    fold_workers: int = Field(0, ge=0, le=256, description=(
        "processes fitting the k folds at once: 0 = min(k, CPU cores), 1 = one fold after another in this "
        "process; the results do not depend on it"))


class SearchDimension(Section):
    """One dimension of an Optuna search space.

    ``float``/``int`` need ``low`` < ``high`` (``log`` for a log-uniform
    prior, ``step`` for a grid); ``categorical`` needs ``choices``.
    """

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(None, gt=0)
    choices: tuple[str | int | float | bool, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "SearchDimension":
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical dimension needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} dimension needs 'low' and 'high'")
        if self.low >= self.high:
            raise ValueError(f"'low' must be < 'high' (got low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log dimension needs low > 0 (got {self.low})")
        if self.log and self.step is not None:
            raise ValueError("'log' and 'step' cannot be combined")
        return self


def _default_space() -> dict[str, SearchDimension]:
    return {
        "optimizer.learning_rate": SearchDimension(type="float", low=1e-3, high=6e-3, log=True),
        "net.width": SearchDimension(type="int", low=8, high=12, step=4),
        "augment.fraction": SearchDimension(type="float", low=0.0, high=0.3),
    }


class TuneParams(Section):
    """The ``tune_<task>`` section: an Optuna study over the ``train_<task>`` recipe.

    Keys of ``search_space`` are dotted paths into the train section
    (``optimizer.learning_rate``, ``net.width``, ``batch_size``…). The
    objective is the mean over folds of ``objective`` on the held-out fold.
    ``storage`` may be any SQLAlchemy URL (``postgresql://…``); the
    ``SKYSIEVE_OPTUNA_STORAGE`` environment variable overrides it.
    """

    n_trials: int = Field(4, ge=1, description="total finished trials wanted in the study (resumes count)")
    seed: int = Field(2021, ge=0, description="TPE sampler seed")
    startup_trials: int = Field(3, ge=0, description="random trials before TPE, and trials before pruning")
    pruner: Literal["median", "hyperband", "none"] = "median"
    warmup_epochs: int = Field(5, ge=0, description="epochs of each trial never pruned (median pruner)")
    objective: Literal["pr_auc", "f1", "roc_auc"] = "pr_auc"
    storage: str = Field("sqlite:///optuna.db", min_length=1)
    study_name: str | None = Field(
        None, min_length=1, description="default: <task>-<digest of train params, search, data and training code>")
    timeout_s: float | None = Field(None, gt=0)
    enqueue_base: bool = Field(
        False, description="make the study's first trial the train section's own values of the searched keys "
                           "(so n_trials: 1 cross-validates the recipe as configured); they must lie in the space")
    search_space: dict[str, SearchDimension] = Field(default_factory=_default_space)
