"""Bootstrap comparisons: the paired difference of two methods, and intervals with the threshold's own noise.

A *paired* bootstrap (:func:`paired_bootstrap_difference`) draws the same
objects for both methods, so what they share — the objects both get right,
the ones both get wrong — cancels in their difference, and its interval is
much narrower than the two separate intervals suggest.
:func:`threshold_bootstrap` resamples the validation split too and re-chooses
the threshold on each resample.  Resampling as in :mod:`skysieve.metrics._bootstrap`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError
from skysieve.metrics._binary import _labels, _scores
from skysieve.metrics._bootstrap import (
    BOOTSTRAP_METRICS,
    DECISION_METRICS,
    N_BOOT,
    Interval,
    _check_boot,
    _index_blocks,
    _percentiles,
    _point,
    _ratio,
    bootstrap_distribution,
    bootstrap_indices,
)

__all__ = ["Difference", "paired_bootstrap_difference", "threshold_bootstrap"]


@dataclass(frozen=True)
class Difference(Interval):
    """A paired difference ``metric(a) − metric(b)`` with its bootstrap interval.

    Attributes
    ----------
    metric : str
    fraction_not_above_zero : float
        The fraction of resamples in which ``a`` does not beat ``b``
        (difference ≤ 0): a one-sided bootstrap p-value for "a is better".
    """

    metric: str = "f1"
    fraction_not_above_zero: float = float("nan")

    def as_dict(self) -> dict[str, float | int | str]:
        """JSON-ready: ``metric``, ``value``, ``lo``, ``hi``, ``n_pos``, ``n_neg``, ``n_boot``,
        ``fraction_not_above_zero``."""
        return {"metric": self.metric, "value": self.value, "lo": self.lo, "hi": self.hi, "n_pos": self.n_pos,
                "n_neg": self.n_neg, "n_boot": self.n_boot, "fraction_not_above_zero": self.fraction_not_above_zero}


def paired_bootstrap_difference(
    y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike, *,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "f1", n_boot: int = N_BOOT, seed: int = 0,
    confidence: float = 0.95, stratify: bool = True,
) -> Difference:
    """The interval of ``metric(a) − metric(b)``, both methods scored on the same resampled objects.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    pred_a, pred_b : array-like of shape (n,)
        Decisions (0/1) for ``purity``, ``completeness``, ``f1``, ``accuracy``;
        scores for ``roc_auc``, ``pr_auc``; whatever a callable metric takes.
    metric : str or callable, keyword-only
        A name of :data:`BOOTSTRAP_METRICS`, or ``metric(y, pred) -> float``
        (evaluated resample by resample: slower).
    n_boot, seed, confidence, stratify
        As in :func:`bootstrap_metrics`.

    Returns
    -------
    Difference
        ``value`` is the difference on the split itself.
    """
    _check_boot(n_boot, confidence)
    y = _labels(y_true)
    if callable(metric):
        a, b = np.asarray(pred_a), np.asarray(pred_b)
        if a.shape != y.shape or b.shape != y.shape:
            raise DataError(f"pred_a and pred_b must hold one value per label (got {a.shape}, {b.shape}, {y.shape})")
        idx = bootstrap_indices(y, n_boot=n_boot, seed=seed, stratify=stratify)
        diffs = np.array([metric(y[i], a[i]) - metric(y[i], b[i]) for i in idx], dtype=np.float64)
        value = float(metric(y, a) - metric(y, b))
        name = getattr(metric, "__name__", "metric")
    else:
        if metric not in BOOTSTRAP_METRICS:
            raise DataError(f"unknown metric '{metric}'; choose from {list(BOOTSTRAP_METRICS)} or pass a callable")
        key = "decisions" if metric in DECISION_METRICS else "scores"
        dists, values = [], []
        for pred in (pred_a, pred_b):
            dists.append(bootstrap_distribution(y, metrics=(metric,), n_boot=n_boot, seed=seed, stratify=stratify,
                                                **{key: pred})[metric])
            if key == "decisions":
                values.append(_point(y, None, _labels(pred, "pred"), metric))
            else:
                values.append(_point(y, _scores(pred, y.size, "pred"), None, metric))
        diffs = dists[0] - dists[1]
        value = float(values[0] - values[1])
        name = metric
    lo, hi = _percentiles(diffs, confidence)
    finite = diffs[np.isfinite(diffs)]
    n_pos = int(y.sum())
    return Difference(value=value, lo=lo, hi=hi, n_pos=n_pos, n_neg=int(y.size - n_pos), n_boot=int(n_boot),
                      confidence=confidence, metric=name,
                      fraction_not_above_zero=float(np.mean(finite <= 0)) if finite.size else float("nan"))


def _best_thresholds(w: np.ndarray, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Per resample (row of ``w``), the F1-maximising threshold among the scores it holds (ties: the highest)."""
    order = np.argsort(-s, kind="stable")
    s_desc, y_desc = s[order], y[order]
    starts = np.flatnonzero(np.r_[True, np.diff(s_desc) < 0])
    ws = w[:, order]
    tp = np.cumsum(np.add.reduceat(ws * y_desc, starts, axis=1), axis=1)
    fp = np.cumsum(np.add.reduceat(ws * ~y_desc, starts, axis=1), axis=1)
    f1 = _ratio(2 * tp, tp + fp + tp[:, -1:])  # 2TP / (TP + FP + P), P = all positives of the resample
    return s_desc[starts][np.argmax(f1, axis=1)]  # first maximum in descending order: the highest threshold


def threshold_bootstrap(
    labels_val: ArrayLike, scores_val: ArrayLike, labels_test: ArrayLike, scores_test: ArrayLike, *,
    n_boot: int = N_BOOT, seed: int = 0, confidence: float = 0.95,
) -> dict[str, Interval]:
    r"""Intervals of the test purity, completeness and F1 *with* the noise of the threshold choice.

    Each resample draws the validation objects (stratified), re-chooses the
    F1-maximising threshold on them (as :func:`~skysieve.metrics.best_f1_threshold`
    does), draws the test objects (stratified, independently) and scores them
    at that threshold.  The interval therefore holds both the test noise and
    the validation noise of the threshold — wider than
    :func:`bootstrap_metrics` at a fixed threshold, and the one to read when
    asking whether another run (another sky, another machine) would give a
    figure inside it.  For methods with one score; ensembles that fit more
    than a threshold are refitted by their own code.

    Parameters
    ----------
    labels_val, scores_val : array-like of shape (n_val,)
    labels_test, scores_test : array-like of shape (n_test,)
    n_boot, seed, confidence
        As in :func:`bootstrap_metrics`; the validation and test draws use
        two generators seeded from ``seed``.

    Returns
    -------
    dict of str to Interval
        ``purity``, ``completeness``, ``f1``: ``value`` at the threshold
        chosen on the whole validation split, counts of the test split.
    """
    _check_boot(n_boot, confidence)
    yv, yt = _labels(labels_val, "labels_val"), _labels(labels_test, "labels_test")
    sv, st = _scores(scores_val, yv.size, "scores_val"), _scores(scores_test, yt.size, "scores_test")
    if not yv.any() or not yt.size:
        raise DataError("threshold_bootstrap: the validation split needs positives and the test split objects")
    seeds = np.random.SeedSequence(seed).spawn(2)
    val_seed, test_seed = (int(q.generate_state(1)[0]) for q in seeds)
    levels = np.unique(st)
    pos_t = np.flatnonzero(yt)
    values: dict[str, list[np.ndarray]] = {m: [] for m in ("purity", "completeness", "f1")}
    blocks = zip(_index_blocks(yv, n_boot, val_seed, True), _index_blocks(yt, n_boot, test_seed, True), strict=True)
    for iv, it in blocks:
        b = iv.shape[0]
        wv = np.bincount((iv + yv.size * np.arange(b)[:, None]).ravel(), minlength=b * yv.size).reshape(b, -1)
        wt = np.bincount((it + yt.size * np.arange(b)[:, None]).ravel(), minlength=b * yt.size).reshape(b, -1)
        t = _best_thresholds(wv.astype(np.float64), yv, sv)
        level_of = np.searchsorted(levels, st)  # each test object's score level
        above = level_of[None, :] >= np.searchsorted(levels, t, side="left")[:, None]  # score >= threshold
        wt = wt.astype(np.float64)
        tp = (wt[:, pos_t] * above[:, pos_t]).sum(axis=1)
        flagged = (wt * above).sum(axis=1)
        n_pos = wt[:, pos_t].sum(axis=1)
        values["purity"].append(_ratio(tp, flagged))
        values["completeness"].append(_ratio(tp, n_pos))
        values["f1"].append(_ratio(2 * tp, flagged + n_pos))
    from skysieve.metrics._binary import best_f1_threshold

    threshold, _ = best_f1_threshold(yv, sv)
    d = st >= threshold
    n_pos_t = int(yt.sum())
    out = {}
    for m, chunks in values.items():
        lo, hi = _percentiles(np.concatenate(chunks), confidence)
        out[m] = Interval(value=_point(yt, None, d, m), lo=lo, hi=hi, n_pos=n_pos_t, n_neg=int(yt.size - n_pos_t),
                          n_boot=int(n_boot), confidence=confidence)
    return out
