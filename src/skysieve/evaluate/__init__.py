"""Evaluation: metrics, the validation→test threshold protocol, and the reporting edge.

``metrics`` holds pure functions (``*_score`` is higher-is-better); the
protocol chooses each threshold on validation and applies it unchanged to
test; ``report`` writes plots, ``metrics.json`` and CSVs and logs them to MLflow.
Both classes' metrics, error rates by object property and the purity =
completeness threshold (``_breakdown``) serve searches' own tables.
"""

from skysieve.evaluate._breakdown import (
    ClassMetrics,
    Crossing,
    class_metrics,
    fold_class_metrics,
    purity_completeness_crossing,
    purity_completeness_curve,
    quartile_summary,
)
from skysieve.evaluate._predictions import PREDICTIONS_DOCUMENT, predictions_document
from skysieve.evaluate._errors import ErrorRates, normalised_colour, rate_by_bin, rate_by_cut
from skysieve.evaluate._protocol import (
    Curves,
    EvaluationResult,
    SplitMetrics,
    evaluate_decisions,
    evaluate_scores,
    split_metrics,
)
from skysieve.evaluate._stage import SCORE_COLUMNS, evaluate_methods, fold_metrics_from_oof, score_cutouts
from skysieve.evaluate.report import (
    ReportFiles,
    log_report_run,
    log_report_to_mlflow,
    write_evaluation_report,
    write_metrics_json,
)
from skysieve.metrics import (
    BOOTSTRAP_METRICS,
    BinnedStatistic,
    ConfusionCounts,
    Difference,
    FoldSpread,
    Interval,
    accuracy_score,
    best_f1_threshold,
    bootstrap_distribution,
    bootstrap_indices,
    bootstrap_metrics,
    completeness_by_bin,
    completeness_score,
    confusion_counts,
    f1_score,
    f1_threshold_curve,
    fold_spread,
    intervals_as_dict,
    paired_bootstrap_difference,
    pr_auc_score,
    purity_score,
    roc_auc_score,
    score_by_bin,
    summarize_folds,
    wilson_interval,
)

__all__ = [
    "ClassMetrics",
    "Crossing",
    "ErrorRates",
    "class_metrics",
    "fold_class_metrics",
    "normalised_colour",
    "purity_completeness_crossing",
    "purity_completeness_curve",
    "quartile_summary",
    "rate_by_bin",
    "rate_by_cut",
    "SCORE_COLUMNS",
    "PREDICTIONS_DOCUMENT",
    "predictions_document",
    "BOOTSTRAP_METRICS",
    "Difference",
    "Interval",
    "bootstrap_distribution",
    "bootstrap_indices",
    "bootstrap_metrics",
    "intervals_as_dict",
    "paired_bootstrap_difference",
    "evaluate_methods",
    "fold_metrics_from_oof",
    "score_cutouts",
    "BinnedStatistic",
    "ConfusionCounts",
    "Curves",
    "EvaluationResult",
    "FoldSpread",
    "ReportFiles",
    "SplitMetrics",
    "accuracy_score",
    "best_f1_threshold",
    "completeness_by_bin",
    "completeness_score",
    "confusion_counts",
    "evaluate_decisions",
    "evaluate_scores",
    "f1_score",
    "f1_threshold_curve",
    "fold_spread",
    "log_report_run",
    "log_report_to_mlflow",
    "pr_auc_score",
    "purity_score",
    "roc_auc_score",
    "score_by_bin",
    "split_metrics",
    "summarize_folds",
    "wilson_interval",
    "write_evaluation_report",
    "write_metrics_json",
]
