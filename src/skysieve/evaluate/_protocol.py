"""The evaluation protocol: thresholds chosen on validation, applied unchanged to test.

DeepSZ section 3.2: for each method the threshold that maximises F1 on the
validation split is fixed, then the test split is scored with it.  Both
splits' metrics are reported, so an optimistic validation figure is never
mistaken for the test one.  Every test figure carries a 95 % bootstrap
interval over the test objects, thresholds held fixed
(:func:`~skysieve.metrics.bootstrap_metrics`; ``bootstrap_resamples`` and
``bootstrap_seed`` of the evaluate params), with the positives and negatives
it rests on.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from skysieve.config import EvaluateParams
from skysieve.errors import DataError
from skysieve.metrics import (
    BinnedStatistic,
    ConfusionCounts,
    Interval,
    best_f1_threshold,
    bootstrap_metrics,
    completeness_by_bin,
    confusion_counts,
    f1_threshold_curve,
    intervals_as_dict,
    pr_auc_score,
    roc_auc_score,
    score_by_bin,
)
from skysieve.metrics._binary import _labels, _scores

__all__ = ["Curves", "EvaluationResult", "SplitMetrics", "evaluate_decisions", "evaluate_scores", "split_metrics"]


@dataclass(frozen=True)
class SplitMetrics:
    """Metrics of one method on one split at fixed threshold(s).

    Attributes
    ----------
    counts : ConfusionCounts
    roc_auc, pr_auc : float or None
        None where the method has no single score (the AND ensemble) or the
        split has one class only.
    intervals : dict of str to Interval
        95 % bootstrap intervals of ``purity``, ``completeness``, ``f1``,
        ``accuracy`` (and ``roc_auc``, ``pr_auc`` for a score), with the
        positives and negatives they rest on; empty where none were computed
        (the validation split, or ``bootstrap_resamples: 0``).
    """

    counts: ConfusionCounts
    roc_auc: float | None = None
    pr_auc: float | None = None
    intervals: dict[str, Interval] = field(default_factory=dict)

    @property
    def f1(self) -> float:
        """F1 at the threshold."""
        return self.counts.f1

    @property
    def n_pos(self) -> int:
        """Positives of the split (TP + FN)."""
        return self.counts.tp + self.counts.fn

    @property
    def n_neg(self) -> int:
        """Negatives of the split (FP + TN)."""
        return self.counts.fp + self.counts.tn

    def interval(self, metric: str) -> tuple[float, float] | None:
        """``(lo, hi)`` of a metric's 95 % interval, or None if none was computed."""
        iv = self.intervals.get(metric)
        return None if iv is None else (iv.lo, iv.hi)

    def format(self, metric: str, *, digits: int = 2) -> str:
        """``0.72 (0.60–0.83)``: a metric with its interval, or alone without one; ``–`` if undefined."""
        value = self.counts.as_dict().get(metric) if metric not in ("roc_auc", "pr_auc") else getattr(self, metric)
        if value is None:
            return "–"
        text = f"{float(value):.{digits}f}"
        iv = self.interval(metric)
        return text if iv is None else f"{text} ({iv[0]:.{digits}f}–{iv[1]:.{digits}f})"

    def as_dict(self) -> dict[str, float | int | None]:
        """Counts, purity, completeness, F1, accuracy, ROC-AUC and PR-AUC as one flat dict.

        With intervals, also ``<metric>_lo`` / ``<metric>_hi`` for each and
        ``n_pos``, ``n_neg``, ``n_boot`` (the counts they rest on).
        """
        return {**self.counts.as_dict(), "roc_auc": self.roc_auc, "pr_auc": self.pr_auc,
                **intervals_as_dict(self.intervals)}


@dataclass(frozen=True)
class Curves:
    """Threshold curves of one split, ready to plot.

    Attributes
    ----------
    fpr, tpr : ndarray
        ROC curve.
    completeness, purity : ndarray
        Purity–completeness (precision–recall) curve.
    thresholds, f1 : ndarray
        F1 against threshold (:func:`~skysieve.evaluate.f1_threshold_curve`).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    completeness: np.ndarray
    purity: np.ndarray
    thresholds: np.ndarray
    f1: np.ndarray


@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate_scores` finds for one method.

    Attributes
    ----------
    method : str
    thresholds : dict of str to float
        The validation-chosen threshold(s), e.g. ``{"cnn": 0.37}``.
    val, test : SplitMetrics
        Metrics at those thresholds on each split.
    val_curves, test_curves : Curves or None
        None for decision-only methods.
    binned : dict of str to BinnedStatistic
        Test-split curves by truth property: ``completeness_vs_mass``,
        ``completeness_vs_redshift``, ``score_vs_offset`` (those the truth allows).
    """

    method: str
    thresholds: dict[str, float]
    val: SplitMetrics
    test: SplitMetrics
    val_curves: Curves | None = None
    test_curves: Curves | None = None
    binned: dict[str, BinnedStatistic] = field(default_factory=dict)

    @property
    def test_counts_matrix(self) -> np.ndarray:
        """``[[TN, FP], [FN, TP]]`` on test, rows truth, columns decision."""
        c = self.test.counts
        return np.array([[c.tn, c.fp], [c.fn, c.tp]], dtype=np.int64)

    def metrics(self) -> dict[str, object]:
        """Thresholds and both splits' metrics, nested, JSON-ready (``dvc metrics``)."""
        return {"thresholds": dict(self.thresholds), "val": self.val.as_dict(), "test": self.test.as_dict()}


def _auc_or_none(fn: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, s: np.ndarray) -> float | None:
    if y.all() or not y.any():
        return None
    return fn(y, s)


def _intervals(y: np.ndarray, *, scores: np.ndarray | None, decisions: np.ndarray, n_boot: int,
               seed: int) -> dict[str, Interval]:
    if n_boot <= 0 or y.size == 0:
        return {}
    both = y.any() and not y.all()
    return bootstrap_metrics(y, scores=scores if both else None, decisions=decisions, n_boot=n_boot, seed=seed)


def split_metrics(y_true: ArrayLike, y_score: ArrayLike, *, threshold: float, n_boot: int = 0,
                  seed: int = 0) -> SplitMetrics:
    """Counts, ratios and AUCs of a score on one split at a fixed threshold.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_score : array-like of shape (n,)
    threshold : float
        Decide positive iff ``score >= threshold``.
    n_boot : int, keyword-only
        Bootstrap resamples for the 95 % intervals (:func:`~skysieve.metrics.bootstrap_metrics`,
        threshold held fixed); 0 (the default) computes none.
    seed : int, keyword-only
        Seed of the resamples.

    Returns
    -------
    SplitMetrics
        AUCs are None if the split holds one class only.
    """
    y = _labels(y_true)
    s = _scores(y_score, y.size)
    d = s >= threshold
    return SplitMetrics(
        counts=confusion_counts(y, d),
        roc_auc=_auc_or_none(roc_auc_score, y, s),
        pr_auc=_auc_or_none(pr_auc_score, y, s),
        intervals=_intervals(y, scores=s, decisions=d, n_boot=n_boot, seed=seed),
    )


def _curves(y: np.ndarray, s: np.ndarray) -> Curves | None:
    if y.all() or not y.any():
        return None
    from sklearn import metrics

    fpr, tpr, _ = metrics.roc_curve(y, s)
    precision, recall, _ = metrics.precision_recall_curve(y, s)
    thresholds, f1 = f1_threshold_curve(y, s)
    return Curves(fpr=fpr, tpr=tpr, completeness=recall, purity=precision, thresholds=thresholds, f1=f1)


def _truth_column(truth: Mapping[str, ArrayLike], name: str, n: int) -> np.ndarray | None:
    try:
        column = truth[name]
    except (KeyError, ValueError, IndexError):
        return None
    column = getattr(column, "value", column)  # Quantity, Column -> plain values (units as in params)
    values = np.ma.filled(np.ma.asarray(column, dtype=np.float64), np.nan)
    if values.shape != (n,):
        raise DataError(f"truth column '{name}' has shape {values.shape}; expected one value per test cutout ({n},)")
    return values


def _binned(
    labels: np.ndarray,
    decisions: np.ndarray,
    scores: np.ndarray | None,
    truth: Mapping[str, ArrayLike] | None,
    params: EvaluateParams,
) -> dict[str, BinnedStatistic]:
    if truth is None:
        return {}
    out: dict[str, BinnedStatistic] = {}
    mass = _truth_column(truth, params.mass_column, labels.size)
    z = _truth_column(truth, params.redshift_column, labels.size)
    offset = _truth_column(truth, params.offset_column, labels.size)
    if mass is not None:
        out["completeness_vs_mass"] = completeness_by_bin(labels, decisions, mass, params.mass_bins_msun)
    if z is not None:
        out["completeness_vs_redshift"] = completeness_by_bin(labels, decisions, z, params.redshift_bins)
    if offset is not None and scores is not None and labels.any():
        out["score_vs_offset"] = score_by_bin(scores[labels], offset[labels], params.offset_bins_arcmin)
    return out


def evaluate_scores(
    labels_val: ArrayLike,
    scores_val: ArrayLike,
    labels_test: ArrayLike,
    scores_test: ArrayLike,
    *,
    method: str = "score",
    threshold: float | None = None,
    truth: Mapping[str, ArrayLike] | None = None,
    params: EvaluateParams | None = None,
) -> EvaluationResult:
    """Choose the F1-maximising threshold on validation and apply it unchanged to test.

    Parameters
    ----------
    labels_val, scores_val : array-like of shape (n_val,)
        Validation truth (0/1) and scores (probability, SNR, rank product…).
    labels_test, scores_test : array-like of shape (n_test,)
        Test truth and scores of the same method.
    method : str, keyword-only
        Name used in reports (``"cnn"``, ``"mf"``, ``"rank_product"``).
    threshold : float, optional
        A threshold already chosen on this validation split (by a fitted
        ensemble); by default it is chosen here with
        :func:`~skysieve.evaluate.best_f1_threshold`.  Never pass one chosen
        on the test split.
    truth : mapping of str to array-like of shape (n_test,), optional
        Test-split truth columns (an astropy Table or DataFrame works); the
        columns named in ``params`` give completeness against mass and
        redshift and the score against offset from the cutout centre.
        Missing columns are skipped; NaN rows (no halo) are left out.
    params : EvaluateParams, optional
        Bins, column names and the bootstrap (``bootstrap_resamples``,
        ``bootstrap_seed``: the test metrics' 95 % intervals); defaults to
        ``EvaluateParams()``.

    Returns
    -------
    EvaluationResult
    """
    params = params or EvaluateParams()
    yv = _labels(labels_val, "labels_val")
    sv = _scores(scores_val, yv.size, "scores_val")
    yt = _labels(labels_test, "labels_test")
    st = _scores(scores_test, yt.size, "scores_test")
    if threshold is None and not yv.any():
        raise DataError(
            "evaluate_scores: the validation split has no positives, so no threshold can be chosen by F1; "
            "widen the validation split (split.val_frac of the search's cutouts section)"
        )
    if threshold is None:
        threshold, _ = best_f1_threshold(yv, sv)
    threshold = float(threshold)
    return EvaluationResult(
        method=method,
        thresholds={method: threshold},
        val=split_metrics(yv, sv, threshold=threshold),
        test=split_metrics(yt, st, threshold=threshold, n_boot=params.bootstrap_resamples,
                           seed=params.bootstrap_seed),
        val_curves=_curves(yv, sv),
        test_curves=_curves(yt, st),
        binned=_binned(yt, st >= threshold, st, truth, params),
    )


def evaluate_decisions(
    labels_val: ArrayLike,
    decisions_val: ArrayLike,
    labels_test: ArrayLike,
    decisions_test: ArrayLike,
    *,
    method: str,
    thresholds: Mapping[str, float],
    truth: Mapping[str, ArrayLike] | None = None,
    params: EvaluateParams | None = None,
) -> EvaluationResult:
    """Evaluate a method that yields decisions but no single score (the AND ensemble).

    The thresholds must already have been chosen on validation (as
    :class:`~skysieve.ensemble.AndEnsemble` does); they are recorded, not chosen.

    Parameters
    ----------
    labels_val, decisions_val : array-like of shape (n_val,)
    labels_test, decisions_test : array-like of shape (n_test,)
    method : str, keyword-only
    thresholds : mapping of str to float, keyword-only
        E.g. ``{"and.cnn": 0.26, "and.mf": 7.9}``.
    truth, params
        As in :func:`evaluate_scores` (no score-vs-offset curve).

    Returns
    -------
    EvaluationResult
        AUCs and curves are None.
    """
    params = params or EvaluateParams()
    yt = _labels(labels_test, "labels_test")
    dt = _labels(decisions_test, "decisions_test")
    return EvaluationResult(
        method=method,
        thresholds={k: float(v) for k, v in thresholds.items()},
        val=SplitMetrics(confusion_counts(_labels(labels_val, "labels_val"), _labels(decisions_val, "decisions_val"))),
        test=SplitMetrics(confusion_counts(yt, dt), intervals=_intervals(
            yt, scores=None, decisions=dt, n_boot=params.bootstrap_resamples, seed=params.bootstrap_seed)),
        binned=_binned(yt, dt, None, truth, params),
    )
