"""The training engine: streamed batches, augmentation, class imbalance, k-fold, Platt scaling.

``train_ensemble`` trains the final fold ensemble; ``run_train`` wraps it with
MLflow tracking and writes ``models/<task>/cnn``, checkpointing every epoch so
an interrupted run resumes (``TrainingCheckpoint``); ``load_trained`` and
``predict_dataset`` read it back and score cutouts.
"""

from skysieve.train._augment import augment_batch, dihedral
from skysieve.train._calibrate import PlattCalibrator, bake_temperature, fit_temperature, temper
from skysieve.train._checkpoint import (
    EpochState,
    FoldCheckpoint,
    TrainingCheckpoint,
    checkpoint_key,
    training_code_digest,
)
from skysieve.train._crossval import CrossValidation, FoldResult, TrainedEnsemble, cross_validate, train_ensemble
from skysieve.train._engine import FitResult, TrainingObserver, channel_stats, fit_model, make_optimizer
from skysieve.train._ensemble import FoldEnsemble, load_trained, predict_dataset
from skysieve.train._metrics import binary_log_loss, max_f1_score, pr_auc_score, roc_auc_score, score_metrics
from skysieve.train._mlflow import MlflowFoldLogger
from skysieve.train._parallel import FoldWorkers, fold_workers
from skysieve.train._overrides import override_keys, with_overrides
from skysieve.train._run import TrainRun, checkpoint_dir_for, run_train
from skysieve.train._seed import reseed_generators, set_seeds
from skysieve.train._soft import (
    SoftFitResult,
    SoftTrainer,
    augment_stamps,
    fit_soft,
    freeze_blocks,
    predict_soft,
    soft_targets,
)
from skysieve.train._split import Fold, grouped_stratified_kfold, make_folds, register_splitter, stratified_kfold
from skysieve.train._stream import TrainingBatches, iter_batches

__all__ = [
    "CrossValidation",
    "EpochState",
    "FitResult",
    "Fold",
    "FoldCheckpoint",
    "FoldEnsemble",
    "FoldResult",
    "FoldWorkers",
    "MlflowFoldLogger",
    "PlattCalibrator",
    "SoftFitResult",
    "SoftTrainer",
    "TrainRun",
    "TrainedEnsemble",
    "TrainingBatches",
    "TrainingCheckpoint",
    "TrainingObserver",
    "augment_batch",
    "bake_temperature",
    "augment_stamps",
    "binary_log_loss",
    "channel_stats",
    "checkpoint_dir_for",
    "checkpoint_key",
    "cross_validate",
    "dihedral",
    "fit_model",
    "fit_soft",
    "fit_temperature",
    "fold_workers",
    "freeze_blocks",
    "grouped_stratified_kfold",
    "iter_batches",
    "load_trained",
    "make_folds",
    "make_optimizer",
    "max_f1_score",
    "override_keys",
    "pr_auc_score",
    "predict_dataset",
    "predict_soft",
    "register_splitter",
    "reseed_generators",
    "roc_auc_score",
    "run_train",
    "score_metrics",
    "set_seeds",
    "soft_targets",
    "stratified_kfold",
    "temper",
    "train_ensemble",
    "training_code_digest",
    "with_overrides",
]
