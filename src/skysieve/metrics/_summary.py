"""Metrics summarised over bins of an object property and over cross-validation folds.

Completeness and mean score in bins (DeepSZ figures 9–11), each with its 95 %
interval and the count it rests on, and one metric's spread over k folds.
Pure functions over arrays, like :mod:`skysieve.metrics._binary`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from skysieve.errors import DataError
from skysieve.metrics._binary import ConfusionCounts, _pair, _scores

__all__ = ["BinnedStatistic", "FoldSpread", "completeness_by_bin", "fold_spread", "ratio_intervals", "score_by_bin",
           "summarize_folds", "wilson_interval"]

#: Confidence of every interval reported here (and of the bootstrap intervals elsewhere).
CONFIDENCE = 0.95


@dataclass(frozen=True)
class BinnedStatistic:
    """A statistic in bins of one variable (mass, redshift, offset…).

    Attributes
    ----------
    edges : ndarray of shape (nbins + 1,)
    value : ndarray of shape (nbins,)
        The statistic; NaN in empty bins.
    lo, hi : ndarray of shape (nbins,)
        Its 95 % interval: Wilson's score interval for a fraction
        (:func:`wilson_interval`: never of zero width at 0 or 1 as
        sqrt(p (1 − p) / n) is), mean ± 1.96 standard errors for a mean
        (zero width for one item); NaN in empty bins.
    count : ndarray of shape (nbins,), int
        Items in each bin.
    """

    edges: np.ndarray
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    count: np.ndarray

    @property
    def centers(self) -> np.ndarray:
        """Arithmetic bin centres."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def as_columns(self) -> dict[str, np.ndarray]:
        """Columns for a CSV or table: ``bin_lo``, ``bin_hi``, ``center``, ``value``, ``value_lo``, ``value_hi``
        (the 95 % interval), ``count``."""
        return {
            "bin_lo": self.edges[:-1],
            "bin_hi": self.edges[1:],
            "center": self.centers,
            "value": self.value,
            "value_lo": self.lo,
            "value_hi": self.hi,
            "count": self.count,
        }


def wilson_interval(successes: ArrayLike, trials: ArrayLike, *,
                    confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson score interval of a binomial fraction k / n, element-wise.

    .. math::

        \frac{\hat p + z^2/2n \pm z \sqrt{\hat p (1-\hat p)/n + z^2/4n^2}}{1 + z^2/n},
        \qquad \hat p = k/n,

    with ``z`` the normal quantile of ``(1 + confidence) / 2``
    (:func:`astropy.stats.binom_conf_interval`, ``interval="wilson"``).  At
    k = n it gives ``[n / (n + z²), 1]``, not the zero-width interval of
    sqrt(p (1 − p) / n): completeness 1 on 5 clusters is 1 (0.57–1).

    Parameters
    ----------
    successes, trials : array-like of int, broadcastable
        k and n, with 0 ≤ k ≤ n.
    confidence : float, keyword-only
        Default 0.95.

    Returns
    -------
    lo, hi : ndarray
        NaN where ``trials`` is 0.
    """
    from astropy.stats import binom_conf_interval

    k, n = np.broadcast_arrays(np.asarray(successes, dtype=np.int64), np.asarray(trials, dtype=np.int64))
    if (k < 0).any() or (k > n).any():
        raise DataError(f"successes must lie in [0, trials] (got {k.tolist()} of {n.tolist()})")
    lo = np.full(k.shape, np.nan)
    hi = np.full(k.shape, np.nan)
    some = n > 0
    if some.any():
        lo[some], hi[some] = binom_conf_interval(k[some], n[some], confidence_level=confidence, interval="wilson")
    return lo, hi


def ratio_intervals(counts: ConfusionCounts, *, confidence: float = CONFIDENCE) -> dict[str, tuple[float, float]]:
    """Wilson intervals of purity TP/(TP+FP) and completeness TP/(TP+FN) from the counts alone.

    For figures with no object list to resample (a catalog matched to a truth
    catalog: no true negatives); where the objects are at hand, prefer
    :func:`~skysieve.metrics.bootstrap_metrics`, which also gives F1.

    Returns
    -------
    dict
        ``{"purity": (lo, hi), "completeness": (lo, hi)}``; NaN where the denominator is 0.
    """
    lo, hi = wilson_interval([counts.tp, counts.tp], [counts.tp + counts.fp, counts.tp + counts.fn],
                             confidence=confidence)
    return {"purity": (float(lo[0]), float(hi[0])), "completeness": (float(lo[1]), float(hi[1]))}


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
        ``value`` is the completeness in each bin, ``lo``–``hi`` its Wilson
        95 % interval, ``count`` the number of true objects there.
    """
    y, p = _pair(labels, decisions)
    edges, idx = _bin_index(values, bins, y.size)
    nbins = edges.size - 1
    keep = y & (idx >= 0)
    count = np.bincount(idx[keep], minlength=nbins)
    found = np.bincount(idx[keep & p], minlength=nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(count > 0, found / np.maximum(count, 1), np.nan)
    lo, hi = wilson_interval(found, count)
    return BinnedStatistic(edges=edges, value=frac, lo=lo, hi=hi, count=count)


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
        ``value`` is the mean score, ``lo``–``hi`` the mean ± z standard
        errors (z = 1.96 for 95 %; zero width for a single item), ``count``
        the items per bin.
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
        sem = np.where(count > 0, np.sqrt(np.clip(var, 0, None) / np.maximum(count, 1)), np.nan)
    z = float(norm.ppf(0.5 + CONFIDENCE / 2))
    return BinnedStatistic(edges=edges, value=mean, lo=mean - z * sem, hi=mean + z * sem, count=count)


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
