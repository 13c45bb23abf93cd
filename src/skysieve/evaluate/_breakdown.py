"""Per-class metrics, error rates by object property, and the purity = completeness threshold.

Angora et al. (2023, §4 and appendix A) describe a lens finder with numbers
this module computes, as pure functions over arrays:

* both classes' purity, completeness and F1 and the accuracy (their
  "average efficiency"), Table A.1 — :func:`class_metrics`;
* the spread of those over k folds (median, quartiles, IQR and whiskers),
  Table A.2 — :func:`fold_class_metrics`, :func:`quartile_summary`;
* false-negative and false-positive rates by object property, Tables A.4
  and A.5 — in :mod:`skysieve.evaluate._errors`;
* the threshold where purity equals completeness, Fig. 11 —
  :func:`purity_completeness_crossing`.

The rates use the paper's definitions, ``FNR = FN / (TP + FN)`` and
``FPR = FP / (TN + FP)``; Tables A.4 and A.5 also print the ratios FP/TN and
FN/TP, which :class:`ErrorRates` gives as ``ratio``.  Every decision is
``score >= threshold``, as in :mod:`skysieve.evaluate.metrics`.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError
from skysieve.metrics import ConfusionCounts, confusion_counts, roc_auc_score
from skysieve.metrics._binary import _curve_counts, _labels, _scores

__all__ = [
    "ClassMetrics",
    "Crossing",
    "class_metrics",
    "fold_class_metrics",
    "purity_completeness_crossing",
    "purity_completeness_curve",
    "quartile_summary",
]


@dataclass(frozen=True)
class ClassMetrics:
    """Purity, completeness and F1 of both classes, and the accuracy, from one confusion matrix.

    For the negative class the roles swap: its purity is TN / (TN + FN), its
    completeness TN / (TN + FP) and its F1 2 TN / (2 TN + FP + FN)
    (scikit-learn's ``pos_label=0``).

    Attributes
    ----------
    counts : ConfusionCounts
        Counted with the positive class as positive.
    class_names : (str, str)
        The positive and negative class as :meth:`as_dict` names them
        (a search may name its own).
    """

    counts: ConfusionCounts
    class_names: tuple[str, str] = ("positive", "negative")

    @property
    def accuracy(self) -> float:
        """(TP + TN) / N, the paper's "average efficiency" (AE)."""
        return self.counts.accuracy

    @property
    def positive(self) -> ConfusionCounts:
        """The counts seen from the positive class (``.purity``, ``.completeness``, ``.f1``)."""
        return self.counts

    @property
    def negative(self) -> ConfusionCounts:
        """The counts seen from the negative class: TN and TP, FN and FP swapped."""
        c = self.counts
        return ConfusionCounts(tp=c.tn, fp=c.fn, fn=c.fp, tn=c.tp)

    def as_dict(self, *, positive: str | None = None, negative: str | None = None) -> dict[str, float | int]:
        """Flat, JSON-ready: ``accuracy``, ``<class>_purity``, ``_completeness``, ``_f1`` and the four counts.

        The class names default to :attr:`class_names`.
        """
        positive = positive or self.class_names[0]
        negative = negative or self.class_names[1]
        out: dict[str, float | int] = {"accuracy": self.accuracy}
        for name, c in ((positive, self.positive), (negative, self.negative)):
            out.update({f"{name}_purity": c.purity, f"{name}_completeness": c.completeness, f"{name}_f1": c.f1})
        c = self.counts
        out.update({"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn})
        return out


def class_metrics(y_true: ArrayLike, y_pred: ArrayLike, *,
                  class_names: tuple[str, str] = ("positive", "negative")) -> ClassMetrics:
    """Both classes' purity, completeness and F1, and the accuracy (Angora et al. 2023, Table A.1).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Truth, 0/1 or bool (1 = positive).
    y_pred : array-like of shape (n,)
        Decisions, 0/1 or bool.
    class_names : (str, str), keyword-only
        The positive and negative class, as :meth:`ClassMetrics.as_dict` names them.

    Returns
    -------
    ClassMetrics
    """
    return ClassMetrics(confusion_counts(y_true, y_pred), class_names=tuple(class_names))


def purity_completeness_curve(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Purity and completeness of the positive class as the threshold moves (paper Fig. 11).

    Parameters
    ----------
    y_true : array-like of shape (n,)
    y_score : array-like of shape (n,)

    Returns
    -------
    thresholds : ndarray of shape (m,)
        The distinct scores, ascending.
    purity, completeness : ndarray of shape (m,)
        At ``score >= threshold``; completeness is 0 where the truth has no
        positives.
    """
    y = _labels(y_true)
    s = _scores(y_score, y.size)
    if y.size == 0:
        return np.empty(0), np.empty(0), np.empty(0)
    thresholds, tp, fp = _curve_counts(y, s)
    n_pos = int(y.sum())
    purity = tp / (tp + fp)  # tp + fp >= 1 at every distinct score
    completeness = tp / n_pos if n_pos else np.zeros(tp.shape)
    return thresholds, purity.astype(np.float64), np.asarray(completeness, dtype=np.float64)


@dataclass(frozen=True)
class Crossing:
    """Where purity and completeness meet.

    Attributes
    ----------
    threshold : float
        Decide positive iff ``score >= threshold``.
    purity, completeness : float
        At that threshold.
    """

    threshold: float
    purity: float
    completeness: float

    def as_dict(self) -> dict[str, float]:
        """``threshold``, ``purity``, ``completeness``."""
        return {"threshold": self.threshold, "purity": self.purity, "completeness": self.completeness}


def purity_completeness_crossing(y_true: ArrayLike, y_score: ArrayLike) -> Crossing:
    """The threshold at which purity equals completeness (Angora et al. 2023, Fig. 11).

    With TP true positives among the N̂ cutouts flagged and P positives,
    purity = TP / N̂ and completeness = TP / P, so the two are equal exactly
    where as many cutouts are flagged as there are positives.  Lowering the
    threshold flags more: the crossing is the highest threshold at which
    completeness is at least purity, i.e. at which N̂ ≥ P — the P-th highest
    score (with ties, every tied cutout is flagged, so N̂ may exceed P).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Truth, 0/1 or bool; needs at least one positive.
    y_score : array-like of shape (n,)

    Returns
    -------
    Crossing

    Raises
    ------
    DataError
        If there are no positives (no completeness to compare).
    """
    y = _labels(y_true)
    s = _scores(y_score, y.size)
    n_pos = int(y.sum())
    if n_pos == 0:
        raise DataError("purity_completeness_crossing: the labels hold no positives; completeness is undefined — "
                        "pass a split with positives in it")
    thresholds, tp, fp = _curve_counts(y, s)
    flagged = tp + fp  # non-increasing as the threshold rises
    i = int(np.flatnonzero(flagged >= n_pos)[-1])
    return Crossing(threshold=float(thresholds[i]), purity=float(tp[i] / flagged[i]), completeness=float(tp[i] / n_pos))


def fold_class_metrics(
    labels: ArrayLike, scores: ArrayLike, folds: ArrayLike, *, threshold: float = 0.5,
    class_names: tuple[str, str] = ("positive", "negative"),
) -> list[dict[str, float]]:
    """Per-fold accuracy, both classes' purity, completeness, F1, and ROC-AUC (paper Table A.2, Fig. 6).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Truth of the held-out cutouts.
    scores : array-like of shape (n,)
        Out-of-fold probabilities: each cutout scored by the model of the
        fold that held it out.
    folds : array-like of int, shape (n,)
        The fold of each cutout; negative values are skipped.
    threshold : float, keyword-only
        Decide positive iff ``score >= threshold``; the paper uses 0.5.
    class_names : (str, str), keyword-only
        The positive and negative class, as the keys name them.

    Returns
    -------
    list of dict
        One per fold, in fold order: ``fold``, :meth:`ClassMetrics.as_dict`
        ratios (no counts) and ``roc_auc`` (NaN if the fold holds one class).
    """
    y = _labels(labels)
    s = _scores(scores, y.size)
    f = np.asarray(folds)
    if f.shape != y.shape:
        raise DataError(f"folds must hold one fold per cutout (got shape {f.shape}, expected {y.shape})")
    out = []
    for fold in np.unique(f[f >= 0]):
        sel = f == fold
        metrics = class_metrics(y[sel], s[sel] >= threshold, class_names=class_names).as_dict()
        row = {"fold": int(fold), **{k: float(v) for k, v in metrics.items() if k not in {"tp", "fp", "fn", "tn"}}}
        both = y[sel].any() and not y[sel].all()
        row["roc_auc"] = roc_auc_score(y[sel], s[sel]) if both else float("nan")
        out.append(row)
    return out


def quartile_summary(values: ArrayLike) -> dict[str, float]:
    """Median, quartiles, inter-quartile range and box-plot whiskers of one metric over folds (Table A.2).

    Parameters
    ----------
    values : array-like of shape (k,)
        One finite value per fold.

    Returns
    -------
    dict
        ``median``, ``q1``, ``q3`` (25th and 75th percentiles, linear
        interpolation), ``iqr = q3 - q1``, ``lower = q1 - 1.5 iqr`` and
        ``upper = q3 + 1.5 iqr``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.isfinite(v).all():
        raise DataError(f"quartile_summary: need one or more finite values (got {v.tolist()})")
    q1, median, q3 = (float(x) for x in np.percentile(v, [25, 50, 75]))
    iqr = q3 - q1
    return {"median": median, "q1": q1, "q3": q3, "iqr": iqr, "lower": q1 - 1.5 * iqr, "upper": q3 + 1.5 * iqr}
