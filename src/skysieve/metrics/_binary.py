"""Binary-classification metrics for cluster (or lens, or member) finding.

Pure functions over arrays, named like :mod:`sklearn.metrics`: ``*_score`` is
higher-is-better, options are keyword-only.  The vocabulary is the survey
one — *purity* is precision, *completeness* is recall — and every decision is
``score >= threshold`` (a cutout whose score equals the threshold is positive).

With TP, FP, FN, TN the confusion counts (DeepSZ eq. 1)::

    purity       = TP / (TP + FP)
    completeness = TP / (TP + FN)
    F1           = 2 TP / (2 TP + FP + FN)

A ratio whose denominator is zero is 0 (no positives predicted: purity 0; no
positives in the truth: completeness 0), as sklearn's ``zero_division=0``.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError

__all__ = [
    "ConfusionCounts",
    "accuracy_score",
    "best_f1_threshold",
    "completeness_score",
    "confusion_counts",
    "f1_score",
    "f1_threshold_curve",
    "pr_auc_score",
    "purity_score",
    "roc_auc_score",
]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


@dataclass(frozen=True)
class ConfusionCounts:
    """The four counts of a binary confusion matrix, with the ratios derived from them.

    Attributes
    ----------
    tp, fp, fn, tn : int
        True positives, false positives, false negatives, true negatives.
    """

    tp: int
    fp: int
    fn: int
    tn: int

    def __post_init__(self) -> None:
        for name in ("tp", "fp", "fn", "tn"):
            value = getattr(self, name)
            if int(value) != value or value < 0:
                raise DataError(f"ConfusionCounts: {name} must be a non-negative integer (got {value!r})")
            object.__setattr__(self, name, int(value))

    @property
    def n(self) -> int:
        """Total number of items."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def purity(self) -> float:
        """TP / (TP + FP), the precision; 0 when nothing is predicted positive."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def completeness(self) -> float:
        """TP / (TP + FN), the recall; 0 when the truth has no positives."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN), the harmonic mean of purity and completeness."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def accuracy(self) -> float:
        """(TP + TN) / N."""
        return _ratio(self.tp + self.tn, self.n)

    def as_dict(self) -> dict[str, float | int]:
        """Counts and ratios as a flat, JSON-ready dict."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "purity": self.purity,
            "completeness": self.completeness,
            "f1": self.f1,
            "accuracy": self.accuracy,
        }


def _labels(y_true: ArrayLike, name: str = "y_true") -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise DataError(f"{name} must be 1-D (got shape {y.shape}); pass one label per cutout")
    if y.dtype == bool:
        return y
    if y.size and not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise DataError(f"{name} must hold 0/1 or booleans (got values {bad.tolist()}); binarise the labels first")
    return y.astype(bool)


def _scores(y_score: ArrayLike, n: int, name: str = "y_score") -> np.ndarray:
    s = np.asarray(y_score, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != n:
        raise DataError(f"{name} must be 1-D with one value per label (got shape {s.shape}, expected ({n},))")
    if not np.isfinite(s).all():
        raise DataError(f"{name} holds {int((~np.isfinite(s)).sum())} NaN or infinite values; drop or fill them first")
    return s


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _labels(y_true)
    p = _labels(y_pred, "y_pred")
    if p.shape != y.shape:
        raise DataError(f"y_pred must match y_true in length (got {p.shape[0]} and {y.shape[0]})")
    return y, p


def confusion_counts(y_true: ArrayLike, y_pred: ArrayLike) -> ConfusionCounts:
    """Count TP, FP, FN and TN.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Truth, 0/1 or bool.
    y_pred : array-like of shape (n,)
        Decisions, 0/1 or bool.

    Returns
    -------
    ConfusionCounts
    """
    y, p = _pair(y_true, y_pred)
    tp = int(np.count_nonzero(y & p))
    fp = int(np.count_nonzero(~y & p))
    fn = int(np.count_nonzero(y & ~p))
    return ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=int(y.size) - tp - fp - fn)


def purity_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Purity (precision): the fraction of predicted positives that are true, TP / (TP + FP)."""
    return confusion_counts(y_true, y_pred).purity


def completeness_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Completeness (recall): the fraction of true positives found, TP / (TP + FN)."""
    return confusion_counts(y_true, y_pred).completeness


def f1_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of purity and completeness."""
    return confusion_counts(y_true, y_pred).f1


def accuracy_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """(TP + TN) / N.  Misleading on unbalanced samples; prefer :func:`f1_score`."""
    return confusion_counts(y_true, y_pred).accuracy


def _both_classes(y: np.ndarray, metric: str) -> None:
    if y.all() or not y.any():
        raise DataError(
            f"{metric}: the labels hold only one class ({int(y.sum())} positives of {y.size}); "
            "the score is undefined — evaluate on a split with both positives and negatives"
        )


def roc_auc_score(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve (true- vs false-positive rate as the threshold moves).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Truth, 0/1 or bool; both classes must be present.
    y_score : array-like of shape (n,)
        Any score that ranks positives higher (probability, SNR, rank product).

    Returns
    -------
    float in [0, 1]
    """
    from sklearn import metrics

    y = _labels(y_true)
    s = _scores(y_score, y.size)
    _both_classes(y, "roc_auc_score")
    return float(metrics.roc_auc_score(y, s))


def pr_auc_score(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the purity–completeness curve, as average precision.

    AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct thresholds (sklearn's
    ``average_precision_score``, no interpolation).  A random classifier scores
    the positive fraction, not 0.5.
    """
    from sklearn import metrics

    y = _labels(y_true)
    s = _scores(y_score, y.size)
    _both_classes(y, "pr_auc_score")
    return float(metrics.average_precision_score(y, s))


def _curve_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct thresholds (ascending) and TP, FP at ``score >= threshold`` for each."""
    order = np.argsort(-s, kind="stable")
    s_desc = s[order]
    y_desc = y[order]
    tps = np.cumsum(y_desc)
    # last index of each run of equal scores (descending order)
    last = np.r_[np.flatnonzero(np.diff(s_desc)), s_desc.size - 1]
    tp = tps[last]
    fp = (last + 1) - tp
    return s_desc[last][::-1], tp[::-1], fp[::-1]


def f1_threshold_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """F1 as a function of the decision threshold (DeepSZ figure 5).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Truth, 0/1 or bool.
    y_score : array-like of shape (n,)
        Scores; a cutout is positive iff ``score >= threshold``.

    Returns
    -------
    thresholds : ndarray of shape (m,)
        The distinct scores, ascending; every threshold between two of them
        gives the same decisions as the higher one.
    f1 : ndarray of shape (m,)
        F1 at each threshold.
    """
    y = _labels(y_true)
    s = _scores(y_score, y.size)
    if y.size == 0:
        return np.empty(0), np.empty(0)
    thresholds, tp, fp = _curve_counts(y, s)
    n_pos = int(y.sum())
    denom = tp + fp + n_pos  # 2TP + FP + FN = TP + FP + P
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(tp.shape, dtype=np.float64), where=denom > 0)
    return thresholds, f1


def best_f1_threshold(y_true: ArrayLike, y_score: ArrayLike) -> tuple[float, float]:
    """The threshold that maximises F1, and that F1.

    The maximum is always at one of the scores (see :func:`f1_threshold_curve`);
    among equal maxima the highest threshold (fewest positives) is returned.

    Returns
    -------
    threshold : float
        Decide positive iff ``score >= threshold``.
    f1 : float
    """
    thresholds, f1 = f1_threshold_curve(y_true, y_score)
    if thresholds.size == 0:
        raise DataError("best_f1_threshold: no scores given; pass the validation labels and scores")
    best = int(np.flatnonzero(f1 == f1.max())[-1])
    return float(thresholds[best]), float(f1[best])
