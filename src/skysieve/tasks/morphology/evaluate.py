"""The paper's evaluation of soft labels: RMSE with intervals, MAP and confident confusions, calibration, Fig. 11.

Pure: arrays in, a JSON-ready dict out (:func:`evaluate_probabilities`);
plots live in :mod:`~skysieve.tasks.morphology.report`.
"""

import numpy as np

from skysieve.metrics.multiclass import (
    bootstrap_interval,
    expected_calibration_error,
    map_confusion_matrix,
    probability_rmse_loss,
    reliability_curve,
    threshold_curve,
)
from skysieve.tasks.morphology.params import CLASSES, EvaluateMorphologyParams

__all__ = ["PAPER_TEST_RMSE", "evaluate_probabilities", "macro_f1_map", "power_law_fit"]

#: Pérez-Carrasco et al. (2019): test RMSE of the fine-tuned model on CLASH (§5).
PAPER_TEST_RMSE = 0.0991


def macro_f1_map(y: np.ndarray, p: np.ndarray) -> float:
    """Macro F1 of the most-probable class against the most-voted one (classes present in either)."""
    cm = map_confusion_matrix(y, p)
    tp, fp, fn = np.diag(cm), cm.sum(axis=0) - np.diag(cm), cm.sum(axis=1) - np.diag(cm)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(np.mean((2 * tp / np.maximum(2 * tp + fp + fn, 1))[present]))


def _recall(cm: np.ndarray) -> list[float | None]:
    rows = cm.sum(axis=1)
    return [float(cm[i, i] / rows[i]) if rows[i] else None for i in range(len(rows))]


def evaluate_probabilities(y: np.ndarray, p: np.ndarray, cfg: EvaluateMorphologyParams, *,
                           expected: np.ndarray | None = None) -> dict:
    """Every figure of the paper's §5 on one test set, with bootstrap 95 % intervals.

    Parameters
    ----------
    y : ndarray of shape (n, 5)
        Vote fractions.
    p : ndarray of shape (n, 5)
        Predicted probabilities.
    cfg : EvaluateMorphologyParams
    expected : ndarray of shape (n, 5), optional
        The annotators' expected vote fractions (simulation truth): the RMSE
        of these against the votes is the floor no model can beat on average.

    Returns
    -------
    dict
        ``n``, ``rmse`` / ``_lo`` / ``_hi``, ``ece`` / ``_lo`` / ``_hi``,
        ``map_accuracy``, ``macro_f1`` (with intervals), ``confusion_map``,
        ``confusion_confident`` and per-class recalls, ``reliability``,
        ``thresholds`` (Fig. 11), ``ideal_rmse`` if ``expected`` is given.
    """
    n_boot, seed = cfg.n_bootstrap, cfg.seed
    out: dict = {"n": int(len(y)), "classes": list(CLASSES)}
    for key, fn in (("rmse", probability_rmse_loss),
                    ("ece", lambda a, b: expected_calibration_error(a, b, n_bins=cfg.calibration_bins)),
                    ("map_accuracy", lambda a, b: float(np.mean(np.argmax(a, 1) == np.argmax(b, 1)))),
                    ("macro_f1", macro_f1_map)):
        v, lo, hi = bootstrap_interval(fn, y, p, n_boot=n_boot, seed=seed)
        out.update({key: v, f"{key}_lo": lo, f"{key}_hi": hi})
    cm = map_confusion_matrix(y, p)
    cm_conf = map_confusion_matrix(y, p, min_vote=cfg.confident_vote)
    out.update({"confusion_map": cm.tolist(), "recall_map": _recall(cm), "confusion_confident": cm_conf.tolist(),
                "recall_confident": _recall(cm_conf), "n_confident": int(cm_conf.sum())})
    curve = reliability_curve(y, p, n_bins=cfg.calibration_bins)
    out["reliability"] = {"edges": curve.edges.tolist(), "count": curve.count.tolist(),
                          "confidence": np.nan_to_num(curve.confidence, nan=-1).tolist(),
                          "accuracy": np.nan_to_num(curve.accuracy, nan=-1).tolist()}
    th = threshold_curve(y, p, np.asarray(cfg.thresholds))
    out["thresholds"] = {"threshold": list(cfg.thresholds), **{k: np.nan_to_num(v, nan=-1).tolist()
                                                               for k, v in th.items()}}
    if expected is not None:
        v, lo, hi = bootstrap_interval(probability_rmse_loss, y, expected, n_boot=n_boot, seed=seed)
        out.update({"ideal_rmse": v, "ideal_rmse_lo": lo, "ideal_rmse_hi": hi})
    out["paper_rmse"] = PAPER_TEST_RMSE
    return out


def power_law_fit(sizes: np.ndarray, rmse: np.ndarray) -> dict[str, float]:
    """Fit RMSE(N) = a N^(−b) + c by least squares on the repeat means; say what doubling N buys.

    Returns ``a``, ``b``, ``c`` and ``gain_doubling`` = RMSE(N_max) − RMSE(2 N_max)
    (NaN values if the fit fails or there are fewer than 3 sizes).
    """
    from scipy.optimize import curve_fit

    sizes, rmse = np.asarray(sizes, float), np.asarray(rmse, float)
    nan = {"a": float("nan"), "b": float("nan"), "c": float("nan"), "gain_doubling": float("nan")}
    if len(np.unique(sizes)) < 3:
        return nan

    def model(n, a, b, c):
        return a * n ** (-b) + c

    try:
        (a, b, c), _ = curve_fit(model, sizes, rmse, p0=(rmse.max() * sizes.min() ** 0.5, 0.5, rmse.min() * 0.8),
                                 bounds=([0, 0, 0], [np.inf, 3, 1]), maxfev=20000)
    except (RuntimeError, ValueError):
        return nan
    n_max = sizes.max()
    return {"a": float(a), "b": float(b), "c": float(c),
            "gain_doubling": float(model(n_max, a, b, c) - model(2 * n_max, a, b, c))}
