"""Metrics over probability vectors (soft multi-class labels): RMSE, MAP confusion, calibration, thresholds.

Pure functions of arrays ``p`` (predicted, (n, k)) and ``y`` (target
probabilities, (n, k)), named like :mod:`sklearn.metrics`; a bootstrap over
rows gives every figure its interval.
"""

from collections.abc import Callable

import numpy as np

__all__ = [
    "ReliabilityCurve",
    "bootstrap_interval",
    "expected_calibration_error",
    "map_confusion_matrix",
    "probability_rmse_loss",
    "reliability_curve",
    "threshold_curve",
]


def probability_rmse_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Root-mean-square error over every image and class: √( (1 / nk) Σ_i Σ_c (p_ic − y_ic)² ).

    The loss Pérez-Carrasco et al. (2019) report (0.0991 on CLASH).
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 2:
        raise ValueError(f"y and p must both have shape (n, k); got {y.shape} and {p.shape}")
    return float(np.sqrt(np.mean((p - y) ** 2)))


def map_confusion_matrix(y: np.ndarray, p: np.ndarray, *, min_vote: float = 0.0) -> np.ndarray:
    """Confusion of the most-probable class, rows = target's most-voted class, columns = predicted.

    Only rows whose top target probability is ≥ ``min_vote`` count (the
    paper's confident votes: 0.75).  Equals ``sklearn.metrics.confusion_matrix``
    of the argmaxes with ``labels=range(k)``.
    """
    y, p = np.asarray(y), np.asarray(p)
    k = y.shape[1]
    keep = y.max(axis=1) >= min_vote
    t, q = np.argmax(y[keep], axis=1), np.argmax(p[keep], axis=1)
    return np.bincount(t * k + q, minlength=k * k).reshape(k, k)


class ReliabilityCurve:
    """Reliability diagram of the top-class confidence: per bin, count, mean confidence and accuracy."""

    def __init__(self, edges: np.ndarray, count: np.ndarray, confidence: np.ndarray, accuracy: np.ndarray):
        self.edges, self.count, self.confidence, self.accuracy = edges, count, confidence, accuracy


def reliability_curve(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> ReliabilityCurve:
    """Bin images by the predicted top-class probability ``c_i = max_k p_ik``; accuracy = the target's weight on that class.

    The accuracy of image i is ``y_i,k̂`` with ``k̂ = argmax_k p_ik``: for
    one-hot labels 1 when the predicted class is the label and 0 otherwise
    (the usual hit rate, Guo et al. 2017); for soft labels (vote fractions)
    the fraction of votes for the predicted class.  A model whose
    probabilities are the expected votes, ``p_i = E[y_i]``, then has
    ``E[acc_b] = conf_b`` in every bin — calibrated, as it is.  Scoring
    soft labels by whether their argmax agrees instead would call that
    model over-confident wherever the votes are split (a 0.4/0.35/0.25 vote
    has its argmax on the top class far more often than 40 % of the time).

    Bins are equal-width on [0, 1]; empty bins have NaN confidence and accuracy.
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p)
    conf = p.max(axis=1)
    hit = y[np.arange(len(y)), np.argmax(p, axis=1)]
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, conf, minlength=n_bins) / count
        acc = np.bincount(idx, hit, minlength=n_bins) / count
    return ReliabilityCurve(edges, count, mean_conf, acc)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> float:
    """ECE = Σ_b (n_b / n) |acc_b − conf_b| over the bins of :func:`reliability_curve` (Guo et al. 2017)."""
    curve = reliability_curve(y, p, n_bins=n_bins)
    ok = curve.count > 0
    return float(np.sum(curve.count[ok] / curve.count.sum() * np.abs(curve.accuracy[ok] - curve.confidence[ok])))


def threshold_curve(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """Fig. 11 of the paper: images whose top predicted probability is ≥ t, and how well they are classified.

    Returns
    -------
    dict of ndarray, one value per threshold
        ``retained`` (fraction kept), ``n``, ``accuracy`` and ``macro_f1`` of
        the argmax against the target's argmax on the kept images (NaN when
        none are kept); the macro F1 averages over classes present in either.
    """
    y, p = np.asarray(y), np.asarray(p)
    k = y.shape[1]
    out = {key: [] for key in ("retained", "n", "accuracy", "macro_f1")}
    for t in np.asarray(thresholds, dtype=float):
        keep = p.max(axis=1) >= t
        out["retained"].append(keep.mean() if len(keep) else np.nan)
        out["n"].append(int(keep.sum()))
        if not keep.any():
            out["accuracy"].append(np.nan)
            out["macro_f1"].append(np.nan)
            continue
        cm = map_confusion_matrix(y[keep], p[keep])
        out["accuracy"].append(np.trace(cm) / cm.sum())
        tp, fp, fn = np.diag(cm), cm.sum(axis=0) - np.diag(cm), cm.sum(axis=1) - np.diag(cm)
        present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
        f1 = np.where(present, 2 * tp / np.maximum(2 * tp + fp + fn, 1), np.nan)
        out["macro_f1"].append(float(np.nanmean(f1[:k])))
    return {key: np.asarray(v, dtype=float) for key, v in out.items()}


def bootstrap_interval(statistic: Callable[..., float], *arrays: np.ndarray, n_boot: int = 500, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float, float]:
    """A statistic of paired arrays with its percentile bootstrap interval (resampling rows).

    Returns
    -------
    (value, lo, hi)
        ``statistic(*arrays)`` and the (1 ± level)/2 percentiles of it over
        ``n_boot`` resamples with replacement (NaN bounds for fewer than 2 rows).
    """
    value = float(statistic(*arrays))
    n = len(arrays[0])
    if n < 2:
        return value, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(*(a[idx] for a in arrays))
                      for idx in (rng.integers(0, n, n) for _ in range(n_boot))], dtype=float)
    lo, hi = np.nanpercentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return value, float(lo), float(hi)
