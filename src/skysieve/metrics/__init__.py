"""Binary-classification metrics: pure functions over arrays, below both training and evaluation.

Named like :mod:`sklearn.metrics` (``*_score`` is higher-is-better, options
keyword-only), in the survey vocabulary (purity = precision, completeness =
recall); every decision is ``score >= threshold``.  ``skysieve.train`` reports
them per epoch and fold, ``skysieve.evaluate`` (which re-exports every name
here) applies them on the validation and test splits.

``_binary``: confusion counts and the ratios, ROC and PR areas, the F1 curve
and its best threshold.  ``_summary``: completeness and mean score in bins,
one metric's spread over folds.  The public submodule :mod:`skysieve.metrics.multiclass` holds the
probability-vector metrics (soft multi-class labels: RMSE, MAP confusion, reliability and ECE, threshold
curves, a row bootstrap).
"""

from skysieve.metrics._binary import (
    ConfusionCounts,
    accuracy_score,
    best_f1_threshold,
    completeness_score,
    confusion_counts,
    f1_score,
    f1_threshold_curve,
    pr_auc_score,
    purity_score,
    roc_auc_score,
)
from skysieve.metrics._summary import (
    BinnedStatistic,
    FoldSpread,
    completeness_by_bin,
    fold_spread,
    score_by_bin,
    summarize_folds,
    wilson_interval,
)

__all__ = [
    "BinnedStatistic",
    "ConfusionCounts",
    "FoldSpread",
    "accuracy_score",
    "best_f1_threshold",
    "completeness_by_bin",
    "completeness_score",
    "confusion_counts",
    "f1_score",
    "f1_threshold_curve",
    "fold_spread",
    "pr_auc_score",
    "purity_score",
    "roc_auc_score",
    "score_by_bin",
    "summarize_folds",
    "wilson_interval",
]
