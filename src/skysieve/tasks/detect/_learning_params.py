"""The ``detect`` search's defaults for the engine's sections (validate, tune, train) — sized for a 2-core laptop."""

from skysieve.config import TrainParams, TuneParams, ValidateParams

__all__ = ["detect_train_defaults", "detect_tune_defaults", "detect_validate_defaults"]


def detect_train_defaults() -> TrainParams:
    """A centre-heatmap detector trained on the fields' dense targets, one hold-out fold (validation split).

    Early stopping, the plateau and the weights kept follow the detection F1 on the validation fields
    (``monitor: detect.detection_f1``, :mod:`skysieve.tasks.detect.selection`).
    """
    return TrainParams.model_validate({
        "net": {"name": "centre_net", "filters": 16, "max_filters": 64, "levels": 3, "context_convs": 2,
                "output_stride": 4, "head_filters": 32},
        "optimizer": {"name": "adam", "learning_rate": 2e-3},
        "schedule": {"early_stopping_patience": 10, "reduce_lr_patience": 4},
        "augment": {"fraction": 0.75},
        "imbalance": {"strategy": "none"},
        "batch_size": 16, "eval_batch_size": 32, "epochs": 40, "splitter": "holdout", "norm_sample": 64,
        "seed": 11, "metric": "pr_auc", "monitor": "detect.detection_f1",
    })


def detect_tune_defaults() -> TuneParams:
    """Two trials over the learning rate (image-level PR-AUC of the heatmap maximum as the objective)."""
    return TuneParams.model_validate({
        "n_trials": 2, "startup_trials": 2, "pruner": "none", "objective": "pr_auc", "seed": 3,
        "search_space": {"optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 4e-3, "log": True}},
    })


def detect_validate_defaults() -> ValidateParams:
    """About three quarters of fields hold a cluster; pixels are stretched noise units."""
    return ValidateParams(label_rate_min=0.5, label_rate_max=0.95, min_positives=10, max_abs_pixel_uk=1e3)
