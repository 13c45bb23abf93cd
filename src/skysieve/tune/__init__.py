"""Hyperparameter search: an Optuna study over k-fold CV, with MLflow study → trial → fold runs."""

from skysieve.tune._space import check_search_space, suggest
from skysieve.tune._study import (
    GRACE_S,
    HEARTBEAT_S,
    STORAGE_ENV,
    PruningObserver,
    TuneResult,
    default_study_name,
    make_pruner,
    open_study,
    run_tune,
)

__all__ = [
    "GRACE_S",
    "HEARTBEAT_S",
    "STORAGE_ENV",
    "PruningObserver",
    "TuneResult",
    "check_search_space",
    "default_study_name",
    "make_pruner",
    "open_study",
    "run_tune",
    "suggest",
]
