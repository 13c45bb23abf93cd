"""Per-class metrics, error rates by object property, and the purity = completeness threshold.

Angora et al. (2023, §4 and appendix A) describe a lens finder with numbers
this module computes, as pure functions over arrays:

* both classes' purity, completeness and F1 and the accuracy (their
  "average efficiency"), Table A.1 — :func:`class_metrics`;
* the spread of those over k folds (median, quartiles, IQR and whiskers),
  Table A.2 — :func:`fold_class_metrics`, :func:`quartile_summary`;
* false-negative rates of lenses by source magnitude, Einstein radius and
  source redshift, and false-positive rates of non-lenses by lens magnitude
  and colour, Tables A.4 and A.5, Figs. 8 and 9 — :func:`rate_by_bin`,
  :func:`rate_by_cut`;
* the normalised colour of a galaxy, its offset from the fitted red sequence
  (§4.3) — :func:`normalised_colour`;
* the threshold where purity equals completeness, Fig. 11 —
  :func:`purity_completeness_crossing`.

The rates use the paper's definitions, ``FNR = FN / (TP + FN)`` and
``FPR = FP / (TN + FP)``; Tables A.4 and A.5 also print the ratios FP/TN and
FN/TP, which :class:`ErrorRates` gives as ``ratio``.  Every decision is
``score >= threshold``, as in :mod:`skysieve.evaluate.metrics`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError
from skysieve.metrics import ConfusionCounts, completeness_by_bin, confusion_counts, roc_auc_score
from skysieve.metrics._binary import _curve_counts, _labels, _pair, _scores

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
]

ErrorKind = Literal["false_negative", "false_positive"]


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
        (a search's own: ``("lens", "non_lens")``).
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


@dataclass(frozen=True)
class ErrorRates:
    """False-negative (or false-positive) counts and rates in rows of one property.

    A row holds the objects of the class concerned — lenses for false
    negatives, non-lenses for false positives — whose property lies in
    ``[lo, hi)`` (the last bin of :func:`rate_by_bin` is closed).

    Attributes
    ----------
    kind : {"false_negative", "false_positive"}
    lo, hi : ndarray of shape (nrows,)
        Row bounds, in the property's units; ``-inf`` / ``inf`` for open cuts.
    n : ndarray of shape (nrows,), int
        Objects of the class in each row.
    errors : ndarray of shape (nrows,), int
        Of those, the misclassified: FN (lenses missed) or FP (non-lenses flagged).
    rate : ndarray of shape (nrows,)
        errors / n: FNR = FN / (TP + FN) or FPR = FP / (TN + FP); NaN in empty rows.
    rate_error : ndarray of shape (nrows,)
        Binomial 1σ, sqrt(rate (1 − rate) / n); NaN in empty rows.
    n_total, errors_total : int
        The class's objects and errors in the whole sample, including those
        whose property is NaN or outside every row (the paper's "Total Number").
    """

    kind: ErrorKind
    lo: np.ndarray
    hi: np.ndarray
    n: np.ndarray
    errors: np.ndarray
    rate: np.ndarray
    rate_error: np.ndarray
    n_total: int
    errors_total: int

    @property
    def correct(self) -> np.ndarray:
        """Correctly classified objects per row: TP (positives) or TN (negatives)."""
        return self.n - self.errors

    @property
    def ratio(self) -> np.ndarray:
        """FN / TP or FP / TN per row, as printed in Tables A.4 and A.5; NaN where nothing is correct."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.correct > 0, self.errors / np.maximum(self.correct, 1), np.nan)

    @property
    def share(self) -> np.ndarray:
        """Fraction of all the class's objects that fall in each row (Tables A.4/A.5, column 2)."""
        return self.n / self.n_total if self.n_total else np.full(self.n.shape, np.nan)

    @property
    def error_share(self) -> np.ndarray:
        """Fraction of all the errors that fall in each row (Tables A.4/A.5, columns 3 and 5)."""
        return self.errors / self.errors_total if self.errors_total else np.full(self.n.shape, np.nan)

    @property
    def total_rate(self) -> float:
        """errors_total / n_total over the whole sample; NaN if the class is absent."""
        return self.errors_total / self.n_total if self.n_total else float("nan")

    def as_columns(self) -> dict[str, np.ndarray]:
        """Columns for a CSV: ``lo``, ``hi``, ``n``, ``correct``, ``errors``, ``rate``, ``rate_error``, ``ratio``,
        ``share``, ``error_share``."""
        return {"lo": self.lo, "hi": self.hi, "n": self.n, "correct": self.correct, "errors": self.errors,
                "rate": self.rate, "rate_error": self.rate_error, "ratio": self.ratio, "share": self.share,
                "error_share": self.error_share}


def _class_and_errors(labels: ArrayLike, decisions: ArrayLike, kind: str) -> tuple[np.ndarray, np.ndarray]:
    y, p = _pair(labels, decisions)
    if kind == "false_negative":
        return y, ~p  # lenses, and which of them were missed
    if kind == "false_positive":
        return ~y, p  # non-lenses, and which of them were flagged
    raise DataError(f"error kind must be 'false_negative' or 'false_positive' (got {kind!r})")


def rate_by_bin(
    labels: ArrayLike, decisions: ArrayLike, values: ArrayLike, bins: ArrayLike, *, kind: ErrorKind
) -> ErrorRates:
    """False-negative or false-positive rate in bins of a property (paper Figs. 8 and 9).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Truth, 0/1 or bool (1 = positive).
    decisions : array-like of shape (n,)
        The classifier's decisions at its threshold.
    values : array-like of shape (n,)
        The property (source magnitude, θ_E in arcsec, source redshift, lens
        magnitude, colour), in the units of ``bins``; NaN or out-of-range
        objects enter no bin but do count in the totals.
    bins : array-like of shape (nbins + 1,)
        Strictly increasing edges; bins are [lo, hi), the last [lo, hi].
    kind : {"false_negative", "false_positive"}, keyword-only
        ``false_negative``: rows of lenses, FNR = FN / (TP + FN).
        ``false_positive``: rows of non-lenses, FPR = FP / (TN + FP).

    Returns
    -------
    ErrorRates
    """
    members, wrong = _class_and_errors(labels, decisions, kind)
    # the error rate of a class is the "completeness" of its errors among its members
    binned = completeness_by_bin(members, wrong, values, bins)
    errors = np.where(binned.count > 0, np.rint(np.nan_to_num(binned.value) * binned.count), 0).astype(np.int64)
    return ErrorRates(kind=kind, lo=binned.edges[:-1], hi=binned.edges[1:], n=binned.count.astype(np.int64),
                      errors=errors, rate=binned.value, rate_error=binned.error,
                      n_total=int(members.sum()), errors_total=int((members & wrong).sum()))


def rate_by_cut(
    labels: ArrayLike, decisions: ArrayLike, values: ArrayLike, cuts: Sequence[float], *, kind: ErrorKind
) -> ErrorRates:
    """Error rates below and above each cut, the rows of Tables A.4 and A.5.

    Each cut ``c`` gives two rows, ``value < c`` then ``value >= c`` (e.g.
    ``F814W < 27`` and ``F814W >= 27``); cuts are taken in ascending order.

    Parameters
    ----------
    labels, decisions, values
        As :func:`rate_by_bin`.
    cuts : sequence of float
        At least one finite cut value.
    kind : {"false_negative", "false_positive"}, keyword-only

    Returns
    -------
    ErrorRates
        ``2 × len(cuts)`` rows with ``lo = -inf`` or ``hi = inf``.
    """
    cuts = np.unique(np.asarray(cuts, dtype=np.float64))
    if cuts.size == 0 or not np.isfinite(cuts).all():
        raise DataError(f"cuts must be one or more finite values (got {cuts.tolist()})")
    parts = [rate_by_bin(labels, decisions, values, [-np.inf, c, np.inf], kind=kind) for c in cuts]
    first = parts[0]
    return ErrorRates(kind=kind, **{k: np.concatenate([getattr(p, k) for p in parts])
                                    for k in ("lo", "hi", "n", "errors", "rate", "rate_error")},
                      n_total=first.n_total, errors_total=first.errors_total)


def _robust_line(x: np.ndarray, y: np.ndarray, *, clip_sigma: float, max_iter: int) -> tuple[float, float]:
    keep = np.ones(x.size, dtype=bool)
    slope, intercept = 0.0, float(np.median(y))
    for _ in range(max_iter):
        if keep.sum() >= 3 and np.ptp(x[keep]) > 0:
            slope, intercept = (float(v) for v in np.polyfit(x[keep], y[keep], 1))
        else:
            slope, intercept = 0.0, float(np.median(y[keep]))
        resid = y - (slope * x + intercept)
        scatter = 1.4826 * float(np.median(np.abs(resid[keep] - np.median(resid[keep]))))
        new = np.abs(resid) <= clip_sigma * scatter if scatter > 0 else keep
        if new.sum() < 2 or np.array_equal(new, keep):
            break
        keep = new
    return slope, intercept


def normalised_colour(
    colour: ArrayLike,
    magnitude: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    clip_sigma: float = 3.0,
    max_iter: int = 10,
) -> np.ndarray:
    """A galaxy's colour minus that of the red sequence at its magnitude (paper §4.3, Girardi et al. 2015).

    ``colour_norm = colour - CM(magnitude)``, where the colour–magnitude
    relation ``CM(m) = a m + b`` is a straight line fitted to the galaxies by
    least squares with iterative clipping of the points more than
    ``clip_sigma`` robust standard deviations (1.4826 × MAD) away — a simple
    stand-in for the paper's least-trimmed-squares fit.  Red-sequence
    galaxies end up near 0, blue ones negative, whatever the cluster redshift.

    Parameters
    ----------
    colour : array-like of shape (n,), mag
        E.g. F606W − F814W.
    magnitude : array-like of shape (n,), mag
        E.g. F814W.
    groups : array-like of shape (n,), optional
        Fit one relation per group (cluster), since the red sequence moves
        with redshift; default one fit for all.
    clip_sigma : float, keyword-only
    max_iter : int, keyword-only

    Returns
    -------
    ndarray of shape (n,), mag
        NaN where the colour or magnitude is not finite.
    """
    c = np.asarray(colour, dtype=np.float64)
    m = np.asarray(magnitude, dtype=np.float64)
    if c.shape != m.shape or c.ndim != 1:
        raise DataError(f"colour and magnitude must be 1-D of equal length (got shapes {c.shape} and {m.shape})")
    g = np.zeros(c.size, dtype=np.int64) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    if g.shape != c.shape:
        raise DataError(f"groups must hold one value per galaxy (got shape {np.shape(groups)}, expected {c.shape})")
    out = np.full(c.size, np.nan)
    ok = np.isfinite(c) & np.isfinite(m)
    for group in np.unique(g[ok]):
        sel = ok & (g == group)
        slope, intercept = _robust_line(m[sel], c[sel], clip_sigma=clip_sigma, max_iter=max_iter)
        out[sel] = c[sel] - (slope * m[sel] + intercept)
    return out


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
