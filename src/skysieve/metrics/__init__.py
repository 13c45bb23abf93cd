"""Binary-classification metrics: pure functions over arrays, below both training and evaluation.

Named like :mod:`sklearn.metrics` (``*_score`` is higher-is-better, options
keyword-only), in the survey vocabulary (purity = precision, completeness =
recall); every decision is ``score >= threshold``.  ``skysieve.train`` reports
them per epoch and fold, ``skysieve.evaluate`` (which re-exports every name
here) applies them on the validation and test splits.

``_binary``: confusion counts and the ratios, ROC and PR areas, the F1 curve
and its best threshold.  ``_summary``: completeness and mean score in bins,
one metric's spread over folds.  ``_bootstrap``: bootstrap 95 % intervals of
every metric with the counts they rest on; ``_compare``: the paired bootstrap
of a difference between two methods, and intervals with the threshold's noise.
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
from skysieve.metrics._bootstrap import (
    BOOTSTRAP_METRICS,
    Interval,
    bootstrap_distribution,
    bootstrap_indices,
    bootstrap_metrics,
    intervals_as_dict,
)
from skysieve.metrics._compare import Difference, paired_bootstrap_difference, threshold_bootstrap
from skysieve.metrics._summary import (
    BinnedStatistic,
    FoldSpread,
    completeness_by_bin,
    fold_spread,
    ratio_intervals,
    score_by_bin,
    summarize_folds,
    wilson_interval,
)

__all__ = [
    "BOOTSTRAP_METRICS",
    "BinnedStatistic",
    "ConfusionCounts",
    "Difference",
    "FoldSpread",
    "Interval",
    "accuracy_score",
    "best_f1_threshold",
    "bootstrap_distribution",
    "bootstrap_indices",
    "bootstrap_metrics",
    "completeness_by_bin",
    "completeness_score",
    "confusion_counts",
    "f1_score",
    "f1_threshold_curve",
    "fold_spread",
    "intervals_as_dict",
    "paired_bootstrap_difference",
    "pr_auc_score",
    "purity_score",
    "ratio_intervals",
    "roc_auc_score",
    "score_by_bin",
    "summarize_folds",
    "threshold_bootstrap",
    "wilson_interval",
]
