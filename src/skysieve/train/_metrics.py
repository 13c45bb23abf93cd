"""Validation metrics the engine reports per epoch and per fold (higher is better)."""

import numpy as np

from skysieve import metrics as _metrics

__all__ = ["METRICS", "binary_log_loss", "max_f1_score", "pr_auc_score", "roc_auc_score", "score_metrics"]

_EPS = 1e-7


def _two_classes(y_true: np.ndarray) -> bool:
    return np.unique(y_true).size == 2


def pr_auc_score(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """:func:`skysieve.metrics.pr_auc_score`, but NaN (not an error) when a fold holds one class."""
    y_true = np.asarray(y_true)
    return _metrics.pr_auc_score(y_true, y_score) if _two_classes(y_true) else float("nan")


def roc_auc_score(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """:func:`skysieve.metrics.roc_auc_score`, but NaN when a fold holds one class."""
    y_true = np.asarray(y_true)
    return _metrics.roc_auc_score(y_true, y_score) if _two_classes(y_true) else float("nan")


def max_f1_score(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """The F1 at the threshold that maximises it (DeepSZ's F1-max); NaN with one class."""
    y_true = np.asarray(y_true)
    return _metrics.best_f1_threshold(y_true, y_score)[1] if _two_classes(y_true) else float("nan")


def binary_log_loss(y_true: np.ndarray, y_prob: np.ndarray, *, sample_weight: np.ndarray | None = None) -> float:
    """Mean binary cross-entropy (lower is better), probabilities clipped to [1e-7, 1 - 1e-7]."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(y_prob, dtype=np.float64), _EPS, 1 - _EPS)
    losses = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float(np.average(losses, weights=sample_weight))


#: Metric name (as in params: ``metric``, ``objective``) → function.
METRICS = {"pr_auc": pr_auc_score, "roc_auc": roc_auc_score, "f1": max_f1_score}


def score_metrics(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRICS` plus ``log_loss`` for one set of scores."""
    out = {name: fn(y_true, y_score) for name, fn in METRICS.items()}
    out["log_loss"] = binary_log_loss(y_true, y_score)
    return out
