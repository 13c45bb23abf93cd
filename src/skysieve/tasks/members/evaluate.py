"""The ``evaluate_members`` stage as a library: CNN, random forest and colour method, as in Angora et al. (2020).

For each method the operating threshold is chosen on the validation split
for a target member purity (:func:`target_purity_threshold`) and applied
unchanged to the test split, where member purity, completeness, F1, the
fraction of all sources classified correctly (the paper's AE, its eq. A.1) and ROC-AUC are
measured with 95 % bootstrap intervals over the test sources
(:func:`bootstrap_metrics`, the engine's bootstrap), then per bin of F814W magnitude, colour offset
from the cluster's red sequence and cluster redshift (:func:`binned_metrics`,
the paper's Table 2 and Table D.3 forms), and the three selections are
intersected (:func:`venn_counts`, the paper's Fig. D.2).  Whether the CNN
ranks members better than each baseline is a paired question — the same
test sources, so the sources every method finds easy or hard cancel — and
is answered by the paired bootstrap of ROC-AUC(CNN) − ROC-AUC(baseline)
(:func:`skysieve.metrics.paired_bootstrap_difference`), far narrower than
the two separate intervals suggest.
"""

from dataclasses import dataclass, field

import numpy as np

from skysieve.errors import DataError
from skysieve.evaluate import confusion_counts, normalised_colour
from skysieve.metrics import bootstrap_metrics as engine_bootstrap
from skysieve.metrics import paired_bootstrap_difference

__all__ = ["METHODS", "MembersEvaluation", "binned_metrics", "bootstrap_metrics", "red_sequence_offset",
           "target_purity_threshold", "venn_counts"]

#: Methods in report order: score column and label.
METHODS = {"cnn": "CNN (VGG)", "rf": "random forest (aperture photometry)", "gmm": "colour method (Gaussian mixture)"}

#: The report's metrics and their names in the engine's bootstrap.
_ENGINE = {"purity": "purity", "completeness": "completeness", "f1": "f1", "ae": "accuracy",
           "roc_auc": "roc_auc"}


def _point(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """The figures at ``threshold`` on the sources themselves (validation rows of the report: no interval)."""
    return {k: v for k, v in bootstrap_metrics(y, s, threshold=threshold, n_boot=1, seed=0).items()
            if not k.endswith(("_lo", "_hi"))}


def bootstrap_metrics(y_true: np.ndarray, y_score: np.ndarray, *, threshold: float, n_boot: int,
                      seed: int) -> dict[str, float]:
    """Member purity, completeness, F1, AE and ROC-AUC at ``threshold``, each with a 95 % bootstrap interval.

    The engine's bootstrap (:func:`skysieve.metrics.bootstrap_metrics`, the
    one every search uses): ``n_boot`` resamples of the test sources with
    replacement and the 2.5–97.5 percentile interval of each metric.  The
    sources are drawn without stratifying by class (``stratify=False``), so
    the interval includes the noise of the member fraction — what a purity
    measured on a new cluster field carries; resamples where a metric is
    undefined are left out of its interval.  AE is the paper's average
    efficiency, its eq. (A.1): AE = (TP + TN) / (TP + FP + TN + FN), the
    fraction of all sources classified correctly; ROC-AUC is NaN where a
    class is absent.

    Returns
    -------
    dict
        ``<metric>``, ``<metric>_lo``, ``<metric>_hi`` for ``purity``,
        ``completeness``, ``f1``, ``ae``, ``roc_auc``; confusion counts
        ``tp, fp, fn, tn``; ``n`` and ``n_members``.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    if y.size == 0:
        raise DataError("bootstrap_metrics: no sources to measure")
    d = s >= threshold
    intervals = engine_bootstrap(y, scores=s, decisions=d, metrics=tuple(_ENGINE.values()), n_boot=n_boot, seed=seed,
                                 stratify=False)
    c = confusion_counts(y, d)
    out: dict[str, float] = {}
    for key, name in _ENGINE.items():
        out[key] = intervals[name].value
    out.update({"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn})
    for key, name in _ENGINE.items():
        out[f"{key}_lo"], out[f"{key}_hi"] = intervals[name].lo, intervals[name].hi
    out["n"], out["n_members"] = int(y.size), int(y.sum())
    return out


def target_purity_threshold(y_val: np.ndarray, s_val: np.ndarray, *, target: float,
                            min_completeness: float = 0.0) -> tuple[float, str]:
    """The lowest validation threshold at which member purity reaches ``target`` (else the F1-best one).

    Lower thresholds mean higher completeness, so among thresholds with
    purity ≥ ``target`` the lowest is the most complete. A classifier that
    reaches the target purity only on its few most confident sources would
    select almost no members there: if the completeness C = TP / P at that
    threshold is below ``min_completeness``, the F1-best threshold is used
    instead, F1 = 2PC / (P + C) weighing both.

    Returns
    -------
    threshold : float
    rule : str
        ``"purity>=<target>"``, ``"f1"`` (the target was never reached) or
        ``"f1 (purity>=<target> only at completeness <c>)"``.
    """
    from skysieve.evaluate import best_f1_threshold

    y, s = np.asarray(y_val).astype(int), np.asarray(s_val, dtype=np.float64)
    if not y.any():
        raise DataError("the threshold sample has no members: no threshold can be chosen; "
                        "enlarge cutouts_members.val_frac")
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(y[order])
    purity = tp / np.arange(1, y.size + 1)
    # only thresholds at distinct score values
    last = np.r_[s[order][1:] != s[order][:-1], True]
    ok = np.flatnonzero(last & (purity >= target))
    if ok.size:
        completeness = tp[ok[-1]] / y.sum()
        if completeness >= min_completeness:
            return float(s[order][ok[-1]]), f"purity>={target:g}"
        return float(best_f1_threshold(y, s)[0]), f"f1 (purity>={target:g} only at completeness {completeness:.2f})"
    return float(best_f1_threshold(y, s)[0]), "f1"


def red_sequence_offset(colour: np.ndarray, magnitude: np.ndarray, labels: np.ndarray, groups: np.ndarray
                        ) -> np.ndarray:
    """Colour minus the cluster's red sequence at the source's magnitude (paper §4.2, Table 2).

    The colour–magnitude line ``CM(m) = a m + b`` of each cluster is fitted
    robustly to its spectroscopic members (:func:`skysieve.evaluate.normalised_colour`,
    iterative clipping) and applied to every source of the cluster, members or not.

    Returns
    -------
    ndarray of shape (n,), mag (NaN where colour or magnitude is not finite)
    """
    c, m = np.asarray(colour, float), np.asarray(magnitude, float)
    y, g = np.asarray(labels).astype(bool), np.asarray(groups)
    out = np.full(c.size, np.nan)
    for grp in np.unique(g):
        sel = g == grp
        mem = sel & y & np.isfinite(c) & np.isfinite(m)
        if mem.sum() < 3:
            continue
        off = normalised_colour(c[mem], m[mem])
        a, b = np.polyfit(m[mem], c[mem] - off, 1)  # recover the fitted line (exactly linear)
        out[sel] = c[sel] - (a * m[sel] + b)
    return out


def binned_metrics(y_true: np.ndarray, y_score: np.ndarray, variable: np.ndarray, edges: tuple[float, ...], *,
                   threshold: float, n_boot: int, seed: int) -> list[dict[str, float]]:
    """:func:`bootstrap_metrics` of the sources in each bin ``[edges[i], edges[i+1])`` of ``variable``."""
    y, s, v = np.asarray(y_true).astype(int), np.asarray(y_score, float), np.asarray(variable, float)
    rows = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        sel = (v >= lo) & (v < hi)
        row = {"bin_lo": lo, "bin_hi": hi}
        if sel.sum() == 0:
            row.update({"n": 0, "n_members": 0})
        else:
            row.update(bootstrap_metrics(y[sel], s[sel], threshold=threshold, n_boot=n_boot, seed=seed + i))
        rows.append(row)
    return rows


def venn_counts(decisions: dict[str, np.ndarray], labels: np.ndarray) -> list[dict[str, object]]:
    """Sources in each region of the three methods' member selections, and how many are true members.

    Returns
    -------
    list of dict
        One row per non-empty combination: ``selected_by`` (e.g. ``cnn+gmm``,
        ``none``), ``n``, ``n_members``.
    """
    names = list(decisions)
    d = np.column_stack([np.asarray(decisions[k], bool) for k in names])
    y = np.asarray(labels).astype(int)
    rows = []
    for code in range(2 ** len(names) - 1, -1, -1):
        want = np.array([(code >> (len(names) - 1 - j)) & 1 for j in range(len(names))], bool)
        sel = np.all(d == want, axis=1)
        label = "+".join(n for n, w in zip(names, want) if w) or "none"
        rows.append({"selected_by": label, "n": int(sel.sum()), "n_members": int(y[sel].sum())})
    return rows


@dataclass
class MembersEvaluation:
    """Everything ``evaluate_members`` measured (see :func:`~skysieve.tasks.members.report.write_members_report`).

    Attributes
    ----------
    thresholds : dict method → float
    rules : dict method → str
    test : dict method → metrics dict (:func:`bootstrap_metrics`)
    val : dict method → metrics dict at the threshold (no intervals)
    bins : dict variable → dict method → list of rows (:func:`binned_metrics`)
    venn : list of rows (:func:`venn_counts`)
    roc : dict method → (fpr, tpr, thresholds) on test
    references : validation CNN scores
    auc_vs_cnn : dict baseline → paired ROC-AUC difference CNN − baseline on test
        (``Difference.as_dict()``: value, lo, hi, fraction_not_above_zero, …)
    """

    thresholds: dict[str, float]
    rules: dict[str, str]
    test: dict[str, dict]
    val: dict[str, dict]
    bins: dict[str, dict[str, list]] = field(default_factory=dict)
    venn: list = field(default_factory=list)
    roc: dict[str, tuple] = field(default_factory=dict)
    references: list = field(default_factory=list)
    auc_vs_cnn: dict[str, dict] = field(default_factory=dict)

    def state(self) -> dict:
        """The JSON the register stage reads: thresholds, reference scores, test metrics with intervals."""
        return {"thresholds": dict(self.thresholds), "operating_point": self.rules["cnn"],
                "references": {"cnn_prob": list(self.references)},
                "test_metrics": {m: {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                                     for k, v in self.test[m].items()} for m in self.test}}


def evaluate_members(labels: dict[str, np.ndarray], scores: dict[str, dict[str, np.ndarray]],
                     truth_test: dict[str, np.ndarray], *, target_purity: float, n_boot: int, seed: int,
                     min_completeness: float = 0.0,
                     bins: dict[str, tuple[float, ...]]) -> MembersEvaluation:
    """Thresholds on validation, bootstrap metrics, bins and Venn counts on test, for every method.

    Parameters
    ----------
    labels : ``{"val": y_val, "test": y_test}``
    scores : ``{method: {"val": s_val, "test": s_test}}``, optionally ``"thr_labels"``, ``"thr_scores"``:
        the sample the threshold is chosen on (validation plus out-of-fold training scores); default the
        validation split
    truth_test : the test sources' binning variables, keyed like ``bins``
    bins : ``{variable: edges}``
    """
    from sklearn.metrics import roc_curve

    ev = MembersEvaluation(thresholds={}, rules={}, test={}, val={})
    yv, yt = np.asarray(labels["val"]).astype(int), np.asarray(labels["test"]).astype(int)
    decisions = {}
    for k, method in enumerate(scores):
        sv, st = np.asarray(scores[method]["val"], float), np.asarray(scores[method]["test"], float)
        y_thr = np.asarray(scores[method].get("thr_labels", yv)).astype(int)
        s_thr = np.asarray(scores[method].get("thr_scores", sv), float)
        thr, rule = target_purity_threshold(y_thr, s_thr, target=target_purity, min_completeness=min_completeness)
        ev.thresholds[method], ev.rules[method] = thr, rule
        ev.val[method] = _point(yv, sv, thr)
        ev.test[method] = bootstrap_metrics(yt, st, threshold=thr, n_boot=n_boot, seed=seed + 1000 * k)
        if 0 < yt.sum() < yt.size:
            ev.roc[method] = roc_curve(yt, st)
        decisions[method] = st >= thr
        for var, edges in bins.items():
            ev.bins.setdefault(var, {})[method] = binned_metrics(yt, st, truth_test[var], edges, threshold=thr,
                                                                 n_boot=max(n_boot // 3, 20), seed=seed + 17 * k)
    ev.venn = venn_counts(decisions, yt)
    if "cnn" in scores and 0 < yt.sum() < yt.size:
        s_cnn = np.asarray(scores["cnn"]["test"], float)
        for method in scores:
            if method != "cnn":
                ev.auc_vs_cnn[method] = paired_bootstrap_difference(
                    yt, s_cnn, np.asarray(scores[method]["test"], float), metric="roc_auc", n_boot=n_boot,
                    seed=seed + 7, stratify=False).as_dict()
    return ev
