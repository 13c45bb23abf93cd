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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError

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


@dataclass(frozen=True)
class BinnedStatistic:
    """A statistic in bins of one variable (mass, redshift, offset…).

    Attributes
    ----------
    edges : ndarray of shape (nbins + 1,)
    value : ndarray of shape (nbins,)
        The statistic; NaN in empty bins.
    error : ndarray of shape (nbins,)
        Its 1σ uncertainty: binomial sqrt(p (1 − p) / n) for a fraction,
        the standard error of the mean for a mean; NaN in empty bins.
    count : ndarray of shape (nbins,), int
        Items in each bin.
    """

    edges: np.ndarray
    value: np.ndarray
    error: np.ndarray
    count: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        """Arithmetic bin centres."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def as_columns(self) -> dict[str, np.ndarray]:
        """Columns for a CSV or table: ``bin_lo``, ``bin_hi``, ``center``, ``value``, ``error``, ``count``."""
        return {
            "bin_lo": self.edges[:-1],
            "bin_hi": self.edges[1:],
            "center": self.centers,
            "value": self.value,
            "error": self.error,
            "count": self.count,
        }


def _bin_index(values: ArrayLike, bins: ArrayLike, n: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
        raise DataError(f"bins must be at least two strictly increasing edges (got {edges.tolist()})")
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n,):
        raise DataError(f"values must be 1-D with one value per item (got shape {v.shape}, expected ({n},))")
    idx = np.searchsorted(edges, v, side="right") - 1
    idx[v == edges[-1]] = edges.size - 2  # the last bin is closed on the right
    idx[~np.isfinite(v) | (idx < 0) | (idx >= edges.size - 1)] = -1
    return edges, idx


def completeness_by_bin(
    labels: ArrayLike, decisions: ArrayLike, values: ArrayLike, bins: ArrayLike
) -> BinnedStatistic:
    """Completeness of a method in bins of a property of the true objects.

    DeepSZ figures 10 and 11: the fraction of cluster-holding cutouts a method
    flags, as a function of halo mass or redshift.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Which items are true objects (0/1 or bool); only these enter.  Pass
        the training label, or a looser selection (e.g. every cutout holding a
        halo above the mass cut at any redshift) for DeepSZ's solid lines.
    decisions : array-like of shape (n,)
        The method's decisions.
    values : array-like of shape (n,)
        The property to bin on (same units as ``bins``); NaN or out-of-range
        items are left out.
    bins : array-like of shape (nbins + 1,)
        Strictly increasing bin edges; bins are [lo, hi), the last [lo, hi].

    Returns
    -------
    BinnedStatistic
        ``value`` is the completeness in each bin, ``count`` the number of true
        objects there.
    """
    y, p = _pair(labels, decisions)
    edges, idx = _bin_index(values, bins, y.size)
    nbins = edges.size - 1
    keep = y & (idx >= 0)
    count = np.bincount(idx[keep], minlength=nbins)
    found = np.bincount(idx[keep & p], minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(count > 0, found / np.maximum(count, 1), np.nan)
        error = np.where(count > 0, np.sqrt(frac * (1 - frac) / np.maximum(count, 1)), np.nan)
    return BinnedStatistic(edges=edges, value=frac, error=error, count=count)


def score_by_bin(scores: ArrayLike, values: ArrayLike, bins: ArrayLike) -> BinnedStatistic:
    """Mean score in bins of another variable.

    DeepSZ figure 9c: the CNN score of cluster-holding cutouts against the
    cluster's offset from the cutout centre.  Select the items (e.g. the
    positives) before calling.

    Parameters
    ----------
    scores : array-like of shape (n,)
    values : array-like of shape (n,)
        The variable to bin on (e.g. ``offset_arcmin``); NaN or out-of-range
        items are left out.
    bins : array-like of shape (nbins + 1,)
        Strictly increasing bin edges.

    Returns
    -------
    BinnedStatistic
        ``value`` is the mean score, ``error`` its standard error (0 for a
        single item), ``count`` the items per bin.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise DataError(f"scores must be 1-D (got shape {s.shape})")
    s = _scores(s, s.size, "scores")
    edges, idx = _bin_index(values, bins, s.size)
    nbins = edges.size - 1
    keep = idx >= 0
    count = np.bincount(idx[keep], minlength=nbins)
    total = np.bincount(idx[keep], weights=s[keep], minlength=nbins)
    total2 = np.bincount(idx[keep], weights=s[keep] ** 2, minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        var = np.where(count > 1, (total2 - count * mean**2) / np.maximum(count - 1, 1), 0.0)
        error = np.where(count > 0, np.sqrt(np.clip(var, 0, None) / np.maximum(count, 1)), np.nan)
    return BinnedStatistic(edges=edges, value=mean, error=error, count=count)


@dataclass(frozen=True)
class FoldSpread:
    """A metric across k folds: mean ± sample standard deviation.

    Attributes
    ----------
    mean, std : float
        ``std`` uses ddof=1 (0 for a single fold).
    values : tuple of float
        One value per fold, in fold order (for box plots).
    """

    mean: float
    std: float
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        """Number of folds."""
        return len(self.values)

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f} (k={self.n})"


def fold_spread(values: Sequence[float] | ArrayLike) -> FoldSpread:
    """Mean and sample standard deviation of one metric over folds.

    Parameters
    ----------
    values : sequence of float
        One finite value per fold.

    Returns
    -------
    FoldSpread
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise DataError("fold_spread: no fold values given; pass one value per fold")
    if not np.isfinite(v).all():
        raise DataError(f"fold_spread: fold values must be finite (got {v.tolist()})")
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return FoldSpread(mean=float(v.mean()), std=std, values=tuple(float(x) for x in v))


def summarize_folds(fold_metrics: Sequence[Mapping[str, float]]) -> dict[str, FoldSpread]:
    """:func:`fold_spread` of every metric the folds share.

    Parameters
    ----------
    fold_metrics : sequence of mapping
        One ``{metric name: value}`` per fold.

    Returns
    -------
    dict of str to FoldSpread
        Keyed by the metric names common to all folds, in first-fold order.
    """
    if not fold_metrics:
        raise DataError("summarize_folds: no folds given; pass one metrics mapping per fold")
    names = [k for k in fold_metrics[0] if all(k in m for m in fold_metrics[1:])]
    return {k: fold_spread([m[k] for m in fold_metrics]) for k in names}
