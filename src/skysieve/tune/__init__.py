"""Hyperparameter search: an Optuna study over k-fold CV, with MLflow study → trial → fold runs."""

from skysieve.tune._runs import PruningObserver
from skysieve.tune._space import base_values, check_search_space, suggest
from skysieve.tune._storage import GRACE_S, HEARTBEAT_S, STORAGE_ENV, default_study_name, make_pruner, open_study
from skysieve.tune._study import TuneResult, run_tune

__all__ = [
    "GRACE_S",
    "HEARTBEAT_S",
    "STORAGE_ENV",
    "PruningObserver",
    "TuneResult",
    "base_values",
    "check_search_space",
    "default_study_name",
    "make_pruner",
    "open_study",
    "run_tune",
    "suggest",
]
