r"""Bootstrap 95 % intervals of the binary metrics, and paired intervals of a difference between two methods.

Resampling
----------
The objects of one split (the test cutouts) are drawn with replacement,
positives and negatives separately: every resample holds the same ``n_pos``
positives and ``n_neg`` negatives as the split (a *stratified* bootstrap, so
ROC-AUC and PR-AUC are defined in every resample).  The decisions (thresholds)
are held fixed: the interval is the sampling noise of the test figure, not of
the threshold choice or of training (seed repeats give that, ``docs/evaluation.md``).

A resample is a vector of multiplicities :math:`w_i` (how often object *i*
was drawn), so every metric is a weighted count:

.. math::

    TP = \sum_i w_i\,y_i\,d_i,\quad FP = \sum_i w_i\,(1-y_i)\,d_i,\quad\ldots

    \mathrm{AUC} = \frac{\sum_{i\in P}\sum_{j\in N} w_i w_j
                   \left([s_i > s_j] + \tfrac12 [s_i = s_j]\right)}{W_P W_N},\qquad
    \mathrm{AP} = \sum_k \frac{W_{P,k}}{W_P}\,\frac{TP_k}{TP_k + FP_k},

with *k* running over the distinct scores from the highest down.  These
equal the metrics computed on the resampled arrays exactly (the tests compare
them with :mod:`sklearn.metrics` resample by resample); computed this way,
1000 resamples of a few thousand objects take milliseconds.

The interval is the percentile interval: the (1 − c)/2 and (1 + c)/2
quantiles of the B resampled values.  Comparisons — the paired bootstrap of
a difference between two methods, and intervals with the threshold's own
noise — are in :mod:`skysieve.metrics._compare`.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError
from skysieve.metrics._binary import _labels, _scores

__all__ = [
    "BOOTSTRAP_METRICS",
    "Interval",
    "bootstrap_distribution",
    "bootstrap_indices",
    "bootstrap_metrics",
    "intervals_as_dict",
]

#: Metrics of decisions (0/1 predictions), given by default.
DECISION_METRICS = ("purity", "completeness", "f1", "accuracy")
#: Metrics of decisions given only when named: the mean of the two classes' completeness,
#: ½ [TP/(TP+FN) + TN/(TN+FP)] (NaN where a class is absent).
OPTIONAL_DECISION_METRICS = ("balanced_accuracy",)
_ALL_DECISION_METRICS = DECISION_METRICS + OPTIONAL_DECISION_METRICS
#: Metrics of scores (threshold-free).
SCORE_METRICS = ("roc_auc", "pr_auc")
#: Every metric :func:`bootstrap_metrics` can give an interval for.
BOOTSTRAP_METRICS = DECISION_METRICS + SCORE_METRICS + OPTIONAL_DECISION_METRICS
#: Default number of resamples.
N_BOOT = 1000
_BLOCK = 256  # resamples drawn at a time, at most (so the draws depend on the seed and n alone)
_BLOCK_CELLS = 4_000_000  # and at most this many weights per block (32 MB of float64), whatever n


@dataclass(frozen=True)
class Interval:
    """A figure with its bootstrap interval and the objects it rests on.

    Attributes
    ----------
    value : float
        The figure on the split itself.
    lo, hi : float
        The percentile interval over the resamples.
    n_pos, n_neg : int
        Positives and negatives of the split (every resample keeps them).
    n_boot : int
        Number of resamples.
    confidence : float
    """

    value: float
    lo: float
    hi: float
    n_pos: int
    n_neg: int
    n_boot: int
    confidence: float = 0.95

    @property
    def n(self) -> int:
        """Objects of the split."""
        return self.n_pos + self.n_neg

    def contains(self, x: float) -> bool:
        """Whether ``lo <= x <= hi``."""
        return bool(self.lo <= x <= self.hi)

    def __str__(self) -> str:
        return f"{self.value:.3f} ({self.lo:.3f}–{self.hi:.3f})"


def _check_boot(n_boot: int, confidence: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise DataError(f"n_boot must be a positive integer (got {n_boot!r}); 1000 is the usual choice")
    if not 0.0 < confidence < 1.0:
        raise DataError(f"confidence must lie in (0, 1) (got {confidence!r})")


def _index_blocks(y: np.ndarray, n_boot: int, seed: int, stratify: bool) -> Iterator[np.ndarray]:
    """Resample indices, ``(b, n)`` int arrays of at most :data:`_BLOCK` rows, ``n_boot`` rows in all."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y), np.flatnonzero(~y)] if stratify else [np.arange(y.size)]
    done = 0
    block = max(1, min(_BLOCK, _BLOCK_CELLS // max(y.size, 1)))
    while done < n_boot:
        b = min(block, n_boot - done)
        parts = [g[rng.integers(0, g.size, size=(b, g.size))] for g in groups if g.size]
        yield np.concatenate(parts, axis=1)
        done += b


def bootstrap_indices(y_true: ArrayLike, *, n_boot: int = N_BOOT, seed: int = 0,
                      stratify: bool = True) -> np.ndarray:
    """The resamples, as indices into the objects: row *b* is resample *b*.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Truth, 0/1 or bool.
    n_boot : int, keyword-only
    seed : int, keyword-only
        The same seed gives the same resamples (:func:`numpy.random.default_rng`).
    stratify : bool, keyword-only
        Draw positives and negatives separately (each resample keeps both counts).

    Returns
    -------
    ndarray of int, shape (n_boot, n)
    """
    y = _labels(y_true)
    _check_boot(n_boot, 0.95)
    return np.concatenate(list(_index_blocks(y, n_boot, seed, stratify)), axis=0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape, dtype=np.float64), where=den > 0)


def _decision_values(w: np.ndarray, y: np.ndarray, d: np.ndarray, metrics: tuple[str, ...]) -> dict[str, np.ndarray]:
    tp = w @ (y & d).astype(np.float64)
    fp = w @ (~y & d).astype(np.float64)
    fn = w @ (y & ~d).astype(np.float64)
    tn = w @ (~y & ~d).astype(np.float64)
    out = {"purity": _ratio(tp, tp + fp), "completeness": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn),
           "accuracy": _ratio(tp + tn, tp + fp + fn + tn)}
    if "balanced_accuracy" in metrics:
        both = (tp + fn > 0) & (tn + fp > 0)
        out["balanced_accuracy"] = np.where(both, 0.5 * (_ratio(tp, tp + fn) + _ratio(tn, tn + fp)), np.nan)
    return {k: out[k] for k in metrics}


def _score_values(w: np.ndarray, y: np.ndarray, s: np.ndarray, metrics: tuple[str, ...]) -> dict[str, np.ndarray]:
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    starts = np.flatnonzero(np.r_[True, np.diff(s_sorted) > 0])
    ws = w[:, order]
    wp = np.add.reduceat(ws * y_sorted, starts, axis=1)  # positive weight per distinct score, ascending
    wn = np.add.reduceat(ws * ~y_sorted, starts, axis=1)
    total_p, total_n = wp.sum(axis=1), wn.sum(axis=1)
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        if "roc_auc" in metrics:
            below = np.cumsum(wn, axis=1) - wn
            auc = (wp * (below + 0.5 * wn)).sum(axis=1) / (total_p * total_n)
            out["roc_auc"] = np.where((total_p > 0) & (total_n > 0), auc, np.nan)
        if "pr_auc" in metrics:
            tp, fp = np.cumsum(wp[:, ::-1], axis=1), np.cumsum(wn[:, ::-1], axis=1)
            precision = _ratio(tp, tp + fp)
            ap = (wp[:, ::-1] * precision).sum(axis=1) / total_p
            out["pr_auc"] = np.where((total_p > 0) & (total_n > 0), ap, np.nan)
    return out


def _split_metrics(metrics: tuple[str, ...] | None, scores: bool, decisions: bool) -> tuple[str, ...]:
    if metrics is None:
        return (DECISION_METRICS if decisions else ()) + (SCORE_METRICS if scores else ())
    unknown = [m for m in metrics if m not in BOOTSTRAP_METRICS]
    if unknown:
        raise DataError(f"unknown bootstrap metrics {unknown}; choose from {list(BOOTSTRAP_METRICS)}")
    if not decisions and any(m in _ALL_DECISION_METRICS for m in metrics):
        raise DataError(f"metrics {[m for m in metrics if m in _ALL_DECISION_METRICS]} need decisions; "
                        "pass decisions=")
    if not scores and any(m in SCORE_METRICS for m in metrics):
        raise DataError(f"metrics {[m for m in metrics if m in SCORE_METRICS]} need scores; pass scores=")
    return tuple(metrics)


def bootstrap_distribution(
    y_true: ArrayLike, *, scores: ArrayLike | None = None, decisions: ArrayLike | None = None,
    metrics: tuple[str, ...] | None = None, n_boot: int = N_BOOT, seed: int = 0, stratify: bool = True,
) -> dict[str, np.ndarray]:
    """Every resample's value of each metric (the same resamples as :func:`bootstrap_indices`).

    Parameters
    ----------
    y_true : array-like of shape (n,)
    scores : array-like of shape (n,), keyword-only, optional
        For ``roc_auc`` and ``pr_auc``.
    decisions : array-like of shape (n,), keyword-only, optional
        0/1 or bool, for ``purity``, ``completeness``, ``f1``, ``accuracy``, ``balanced_accuracy``.
    metrics : tuple of str, keyword-only, optional
        Default: every metric the inputs allow (:data:`BOOTSTRAP_METRICS`), except
        ``balanced_accuracy``, which is given only when named.
    n_boot, seed, stratify
        As in :func:`bootstrap_indices`.

    Returns
    -------
    dict of str to ndarray of shape (n_boot,)
        NaN for an AUC where a (non-stratified) resample holds one class only.
    """
    y = _labels(y_true)
    s = _scores(scores, y.size, "scores") if scores is not None else None
    d = _labels(decisions, "decisions") if decisions is not None else None
    if d is not None and d.shape != y.shape:
        raise DataError(f"decisions must match y_true in length (got {d.size} and {y.size})")
    names = _split_metrics(metrics, s is not None, d is not None)
    _check_boot(n_boot, 0.95)
    if y.size == 0:
        raise DataError("bootstrap: no objects given; pass the test labels")
    chunks: dict[str, list[np.ndarray]] = {m: [] for m in names}
    n = y.size
    for idx in _index_blocks(y, n_boot, seed, stratify):
        b = idx.shape[0]
        w = np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        values = {}
        if d is not None:
            values.update(_decision_values(w, y, d, tuple(m for m in names if m in _ALL_DECISION_METRICS)))
        if s is not None and any(m in SCORE_METRICS for m in names):
            values.update(_score_values(w, y, s, tuple(m for m in names if m in SCORE_METRICS)))
        for m in names:
            chunks[m].append(values[m])
    return {m: np.concatenate(v) for m, v in chunks.items()}


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(finite, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def _point(y: np.ndarray, scores: np.ndarray | None, decisions: np.ndarray | None, metric: str) -> float:
    one = np.ones((1, y.size))
    if metric in _ALL_DECISION_METRICS:
        return float(_decision_values(one, y, decisions, (metric,))[metric][0])
    return float(_score_values(one, y, scores, (metric,))[metric][0])


def bootstrap_metrics(
    y_true: ArrayLike, *, scores: ArrayLike | None = None, decisions: ArrayLike | None = None,
    metrics: tuple[str, ...] | None = None, n_boot: int = N_BOOT, seed: int = 0, confidence: float = 0.95,
    stratify: bool = True,
) -> dict[str, Interval]:
    """Each metric on the split with its bootstrap interval and the counts it rests on.

    Parameters
    ----------
    y_true, scores, decisions, metrics, n_boot, seed, stratify
        As in :func:`bootstrap_distribution`.
    confidence : float, keyword-only
        Default 0.95.

    Returns
    -------
    dict of str to Interval
        ``value`` is the metric on the split itself (equal to
        :func:`~skysieve.metrics.f1_score`, :func:`~skysieve.metrics.roc_auc_score`… there).
    """
    _check_boot(n_boot, confidence)
    y = _labels(y_true)
    dist = bootstrap_distribution(y, scores=scores, decisions=decisions, metrics=metrics, n_boot=n_boot, seed=seed,
                                  stratify=stratify)
    s = _scores(scores, y.size, "scores") if scores is not None else None
    d = _labels(decisions, "decisions") if decisions is not None else None
    n_pos = int(y.sum())
    out = {}
    for m, values in dist.items():
        value = _point(y, s, d, m)
        if m in SCORE_METRICS and (n_pos == 0 or n_pos == y.size):
            value = float("nan")
        lo, hi = _percentiles(values, confidence)
        out[m] = Interval(value=value, lo=lo, hi=hi, n_pos=n_pos, n_neg=int(y.size - n_pos), n_boot=int(n_boot),
                          confidence=confidence)
    return out


def intervals_as_dict(intervals: Mapping[str, Interval]) -> dict[str, float | int]:
    """``<metric>_lo`` and ``<metric>_hi`` for each interval, plus ``n_pos``, ``n_neg``, ``n_boot`` (flat, JSON)."""
    out: dict[str, float | int] = {}
    for name, iv in intervals.items():
        out[f"{name}_lo"], out[f"{name}_hi"] = iv.lo, iv.hi
    if intervals:
        first = next(iter(intervals.values()))
        out.update({"n_pos": first.n_pos, "n_neg": first.n_neg, "n_boot": first.n_boot})
    return out
