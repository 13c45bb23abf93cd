"""Binary-classification metrics, as evaluation names them: :mod:`skysieve.metrics`, re-exported.

The functions live in :mod:`skysieve.metrics`, below both ``skysieve.train``
(which reports them per epoch and fold) and ``skysieve.evaluate``; this
module keeps ``skysieve.evaluate.metrics`` importable with the same names.
"""

from skysieve.metrics import (
    BinnedStatistic,
    ConfusionCounts,
    FoldSpread,
    accuracy_score,
    best_f1_threshold,
    completeness_by_bin,
    completeness_score,
    confusion_counts,
    f1_score,
    f1_threshold_curve,
    fold_spread,
    pr_auc_score,
    purity_score,
    roc_auc_score,
    score_by_bin,
    summarize_folds,
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
]
