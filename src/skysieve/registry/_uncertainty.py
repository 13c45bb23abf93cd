"""Comparing a candidate with the champion with the uncertainty of their test figures.

The promotion gate (:func:`~skysieve.registry.promote`) refuses a candidate
only when its test F1 is worse than the champion's *beyond the noise*, judged
by the strongest evidence both versions carry:

1. **paired** — both stored their per-object test decisions (the document
   ``test_predictions``) on the same test objects: a paired bootstrap of
   F1(candidate) − F1(champion) over those objects
   (:func:`~skysieve.metrics.paired_bootstrap_difference`, 1000 resamples,
   seed 0); worse when the difference's 95 % interval lies wholly below zero;
2. **intervals** — both carry a 95 % bootstrap interval of their test F1
   (tags ``test_f1_lo`` / ``test_f1_hi``): worse when the candidate's interval
   lies wholly below the champion's (they do not overlap);
3. **point** — versions registered without intervals: worse when the
   candidate's F1 is below the champion's (the gate before intervals existed).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from skysieve.evaluate._predictions import PREDICTIONS_DOCUMENT, predictions_document

__all__ = ["PAIRED_BOOT", "PREDICTIONS_DOCUMENT", "Comparison", "compare_versions", "predictions_document"]

#: Resamples and seed of the gate's paired bootstrap.
PAIRED_BOOT = (1000, 0)


@dataclass(frozen=True)
class Comparison:
    """How a candidate's test F1 compares with the champion's.

    Attributes
    ----------
    kind : str
        ``paired``, ``intervals`` or ``point`` (see the module notes).
    worse : bool
        The candidate is worse beyond the noise (the gate refuses it).
    text : str
        Both figures with their intervals, and the difference's, for messages.
    difference : (float, float, float) or None
        ``(value, lo, hi)`` of the paired F1 difference candidate − champion.
    """

    kind: str
    worse: bool
    text: str
    difference: tuple[float, float, float] | None = None


def _interval(tags: Mapping[str, str]) -> tuple[float, float] | None:
    try:
        lo, hi = float(tags["test_f1_lo"]), float(tags["test_f1_hi"])
    except (KeyError, ValueError):
        return None
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None


def _figure(f1: float, interval: tuple[float, float] | None) -> str:
    return f"{f1:.4f}" + (f" (95 % {interval[0]:.4f}–{interval[1]:.4f})" if interval else "")


def _paired_decisions(cand: Mapping[str, Any] | None, champ: Mapping[str, Any] | None, cand_method: str,
                      champ_method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Labels and both decisions aligned on the candidate's ids, or None if they are not the same objects."""
    try:
        ids_a, ids_b = np.asarray(cand["id"]), np.asarray(champ["id"])
        y_a, y_b = np.asarray(cand["label"]).astype(bool), np.asarray(champ["label"]).astype(bool)
        d_a = np.asarray(cand["decisions"][cand_method]).astype(bool)
        d_b = np.asarray(champ["decisions"][champ_method]).astype(bool)
    except (KeyError, TypeError, ValueError):
        return None
    if ids_a.size == 0 or ids_a.shape != ids_b.shape or set(ids_a.tolist()) != set(ids_b.tolist()):
        return None
    order = {v: i for i, v in enumerate(ids_b.tolist())}
    idx = np.array([order[v] for v in ids_a.tolist()])
    if not np.array_equal(y_a, y_b[idx]) or d_a.shape != y_a.shape or d_b.shape != y_b.shape:
        return None
    return y_a, d_a, d_b[idx]


def compare_versions(*, cand_f1: float, champ_f1: float, cand_tags: Mapping[str, str],
                     champ_tags: Mapping[str, str], cand_predictions: Mapping[str, Any] | None = None,
                     champ_predictions: Mapping[str, Any] | None = None) -> Comparison:
    """Compare a candidate's test F1 with the champion's, paired where both stored their test decisions.

    Parameters
    ----------
    cand_f1, champ_f1 : float
        The primary methods' test F1 (tag ``test_f1``).
    cand_tags, champ_tags : mapping
        Version tags (``primary_method``, ``test_f1_lo``, ``test_f1_hi``).
    cand_predictions, champ_predictions : mapping, optional
        The ``test_predictions`` documents (:func:`predictions_document`).

    Returns
    -------
    Comparison
    """
    from skysieve.metrics import paired_bootstrap_difference

    cand_iv, champ_iv = _interval(cand_tags), _interval(champ_tags)
    figures = f"candidate {_figure(cand_f1, cand_iv)}, champion {_figure(champ_f1, champ_iv)}"
    if cand_predictions and champ_predictions:
        paired = _paired_decisions(cand_predictions, champ_predictions, cand_tags.get("primary_method", ""),
                                   champ_tags.get("primary_method", ""))
        if paired is not None:
            y, a, b = paired
            n_boot, seed = PAIRED_BOOT
            d = paired_bootstrap_difference(y, a, b, metric="f1", n_boot=n_boot, seed=seed)
            text = (f"test F1 {figures}; paired bootstrap over the same {d.n} test objects ({d.n_pos} positive): "
                    f"difference {d.value:+.4f} (95 % {d.lo:+.4f} … {d.hi:+.4f})")
            return Comparison("paired", bool(d.hi < 0), text, (d.value, d.lo, d.hi))
    if cand_iv is not None and champ_iv is not None:
        worse = cand_iv[1] < champ_iv[0]
        how = "the intervals do not overlap" if worse else "the intervals overlap"
        return Comparison("intervals", bool(worse), f"test F1 {figures}; {how}")
    return Comparison("point", bool(cand_f1 < champ_f1), f"test F1 {figures} (no intervals recorded)")
