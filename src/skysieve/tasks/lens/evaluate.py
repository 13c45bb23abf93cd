"""The ``evaluate_lens`` stage as a library call: the lens finder measured as in Angora et al. (2023, §4).

Two samples are measured:

* ``test`` — the final model (fold models averaged, Platt-calibrated) on
  the test split, at thresholds fixed before looking at it: the paper's 0.5,
  the purity = completeness crossing on validation, and the F1 maximum on
  validation (:func:`~skysieve.evaluate.evaluate_scores` does the protocol);
* ``cv`` — the out-of-fold predictions of k-fold cross-validation on the
  training split (each cutout scored by the fold model that did not train on
  it, at ``fold_threshold`` on its raw probability), pooled as in the
  paper's Table A.1 and fold by fold as in its Table A.2.

For each sample: both classes' purity, completeness and F1, the accuracy,
ROC-AUC, the same without the adversarial lenses (starred columns of Table
A.1), and false-negative / false-positive rates by source magnitude, θ_E,
source redshift, lens magnitude and normalised lens colour (Tables A.4, A.5).
Every figure of Table A.1 carries a 95 % bootstrap interval over the
sample's cutouts, threshold held fixed (:func:`~skysieve.metrics.bootstrap_metrics`,
``bootstrap_resamples`` / ``bootstrap_seed``), and the rates Wilson intervals.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from skysieve.config import EvaluateParams
from skysieve.errors import DataError
from skysieve.evaluate import (
    ClassMetrics,
    Crossing,
    ErrorRates,
    EvaluationResult,
    Interval,
    bootstrap_metrics,
    class_metrics,
    evaluate_scores,
    fold_class_metrics,
    intervals_as_dict,
    normalised_colour,
    predictions_document,
    purity_completeness_crossing,
    purity_completeness_curve,
    quartile_summary,
    rate_by_bin,
    rate_by_cut,
)
from skysieve.evaluate.metrics import best_f1_threshold, pr_auc_score, roc_auc_score
from skysieve.tasks.lens._learning_params import AdversarialParams, LensEvaluateParams

__all__ = [
    "BREAKDOWN_VARIABLES",
    "CLASS_NAMES",
    "LensBreakdown",
    "LensEvaluation",
    "SampleMetrics",
    "adversarial_mask",
    "align_truth",
    "balanced_threshold",
    "class_intervals",
    "evaluate_lens",
    "false_positives_by_kind",
    "lens_breakdown",
    "lens_truth",
]

#: The two classes as the paper's tables name them (keys ``lens_f1``, ``non_lens_purity``…).
CLASS_NAMES = ("lens", "non_lens")

#: The properties errors are broken down by: name → (error kind, label with unit, bins key, cuts key).
BREAKDOWN_VARIABLES: dict[str, tuple[str, str, str, str]] = {
    "source_mag": ("false_negative", "source F814W [mag]", "source_mag_bins", "source_mag_cuts"),
    "theta_e": ("false_negative", "θ_E [arcsec]", "theta_e_bins_arcsec", "theta_e_cuts_arcsec"),
    "source_z": ("false_negative", "source redshift", "source_z_bins", "source_z_cuts"),
    "arc_snr": ("false_negative", "arc SNR (matched filter)", "arc_snr_bins", "arc_snr_cuts"),
    "lens_mag": ("false_positive", "lens F814W [mag]", "lens_mag_bins", "lens_mag_cuts"),
    "lens_colour": ("false_positive", "lens colour [mag]", "lens_colour_bins", "lens_colour_cuts"),
}


def _column(table: Table, name: str, *, key: str) -> np.ndarray:
    """A float column by name, matched case-insensitively (FITS may change the case)."""
    found = name if name in table.colnames else next((c for c in table.colnames if c.lower() == name.lower()), None)
    if found is None:
        raise DataError(f"catalog has no column '{name}' (evaluate_lens.{key}); columns: {', '.join(table.colnames)}")
    column = table[found]
    return np.ma.filled(np.ma.asarray(getattr(column, "value", column), dtype=np.float64), np.nan)


def lens_truth(catalog: Table, params: LensEvaluateParams) -> Table:
    """The properties the errors are broken down by, one row per catalog row.

    Parameters
    ----------
    catalog : Table
        The lens cutout catalog (``id`` and the truth columns of ``docs/lens.md``).
    params : LensEvaluateParams
        Column names; with ``normalise_colour`` the colour is the offset from
        the red sequence (:func:`~skysieve.evaluate.normalised_colour`),
        fitted over every row of the catalog, one fit per
        ``colour_group_column`` value (cluster).

    Returns
    -------
    Table
        ``id`` and the :data:`BREAKDOWN_VARIABLES` columns: ``source_mag``
        (mag), ``theta_e`` (arcsec), ``source_z``, ``arc_snr``, ``lens_mag`` (mag),
        ``lens_colour`` (mag); NaN where the catalog has none (the source
        columns of non-lenses).

    Raises
    ------
    DataError
        A named column is missing.
    """
    out = Table({"id": np.asarray(catalog["id"])})
    out["source_mag"] = _column(catalog, params.source_mag_column, key="source_mag_column")
    out["theta_e"] = _column(catalog, params.theta_e_column, key="theta_e_column")
    out["source_z"] = _column(catalog, params.source_z_column, key="source_z_column")
    out["arc_snr"] = _column(catalog, params.arc_snr_column, key="arc_snr_column")
    out["lens_mag"] = _column(catalog, params.lens_mag_column, key="lens_mag_column")
    colour = _column(catalog, params.lens_colour_column, key="lens_colour_column")
    if params.normalise_colour:
        groups = None
        if params.colour_group_column is not None:
            if params.colour_group_column not in catalog.colnames:
                raise DataError(f"catalog has no column '{params.colour_group_column}' "
                                "(evaluate_lens.colour_group_column); set it to null for one red-sequence fit")
            groups = np.char.strip(np.asarray(catalog[params.colour_group_column]).astype(str))
        colour = normalised_colour(colour, np.asarray(out["lens_mag"]), groups=groups)
    out["lens_colour"] = colour
    if "kind" in catalog.colnames:  # what each cutout is (lens, member, twin, blue_neighbour…): FP rates by kind
        out["kind"] = np.char.strip(np.asarray(catalog["kind"]).astype(str))
    return out


def align_truth(truth: Table, ids: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`BREAKDOWN_VARIABLES` columns of ``truth`` (:func:`lens_truth`) in the order of ``ids``.

    Raises
    ------
    DataError
        An id is not in ``truth``.
    """
    truth_ids = np.asarray(truth["id"])
    order = np.argsort(truth_ids, kind="stable")
    pos = np.searchsorted(truth_ids, ids, sorter=order)
    pos = np.clip(pos, 0, max(truth_ids.size - 1, 0))
    idx = order[pos] if truth_ids.size else pos
    if truth_ids.size == 0 or not np.array_equal(truth_ids[idx], ids):
        missing = np.setdiff1d(ids, truth_ids)[:3].tolist()
        raise DataError(f"the truth table lacks cutout ids {missing}; score and evaluate the same cutout catalog")
    out = {name: np.asarray(truth[name], dtype=np.float64)[idx] for name in BREAKDOWN_VARIABLES}
    if "kind" in truth.colnames:
        out["kind"] = np.asarray(truth["kind"]).astype(str)[idx]
    return out


def adversarial_mask(labels: np.ndarray, truth: Mapping[str, np.ndarray], *, params: AdversarialParams) -> np.ndarray:
    """Which cutouts are adversarial lenses: a faint source and/or a small θ_E (paper Table A.1, starred).

    Parameters
    ----------
    labels : ndarray of shape (n,)
        1 = lens.
    truth : mapping
        ``source_mag`` and ``theta_e`` (arcsec), shape (n,).
    params : AdversarialParams, keyword-only

    Returns
    -------
    ndarray of bool, shape (n,)
        Never true for a non-lens, nor where a property is NaN.
    """
    with np.errstate(invalid="ignore"):
        faint = np.asarray(truth["source_mag"]) > params.source_mag_min
        small = np.asarray(truth["theta_e"]) < params.theta_e_max_arcsec
    hard = (faint | small) if params.combine == "any" else (faint & small)
    return np.asarray(labels).astype(bool) & hard


@dataclass(frozen=True)
class LensBreakdown:
    """Error rates of one sample by the :data:`BREAKDOWN_VARIABLES`.

    Attributes
    ----------
    bins : dict of str to ErrorRates
        Per variable, in the ``*_bins`` of the params (paper Figs. 8, 9).
    cuts : dict of str to ErrorRates
        Per variable, below/above each of the ``*_cuts`` (Tables A.4, A.5).
    by_kind : dict of str to dict
        False positives per kind of non-lens (:func:`false_positives_by_kind`);
        empty when the truth has no ``kind``.
    """

    bins: dict[str, ErrorRates]
    cuts: dict[str, ErrorRates]
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[str]:
        """The variables broken down by ``kind`` (``false_negative`` or ``false_positive``)."""
        return [v for v, spec in BREAKDOWN_VARIABLES.items() if spec[0] == kind and v in self.bins]


#: The red galaxies among the negatives: cluster members and their colour twins (``docs/lens.md``, "Negatives").
RED_KINDS = ("member", "twin")
#: Their key in :func:`false_positives_by_kind` (a plain word: it becomes part of MLflow metric names).
RED_GROUP = "red"


def false_positives_by_kind(labels: np.ndarray, decisions: np.ndarray, kinds: np.ndarray) -> dict[str, dict[str, Any]]:
    """The false-positive rate FP / (TN + FP) of every kind of non-lens, and of the red ones together.

    Returns ``{kind: {"n", "fp", "rate", "lo", "hi"}}`` (Wilson 95 %
    interval), the kinds in sorted order and then :data:`RED_GROUP` over
    :data:`RED_KINDS` — issue 14's red-member false-positive rate.
    """
    from skysieve.metrics import wilson_interval

    labels, decisions = np.asarray(labels, dtype=bool), np.asarray(decisions, dtype=bool)
    kinds = np.asarray(kinds).astype(str)
    groups = {k: kinds == k for k in sorted(set(kinds[~labels].tolist()))}
    groups[RED_GROUP] = np.isin(kinds, RED_KINDS)
    out = {}
    for name, member in groups.items():
        rows = member & ~labels
        n, fp = int(rows.sum()), int((rows & decisions).sum())
        lo, hi = wilson_interval(fp, n)
        out[name] = {"n": n, "fp": fp, "rate": fp / n if n else float("nan"), "lo": float(lo), "hi": float(hi)}
    return out


def lens_breakdown(
    labels: np.ndarray, decisions: np.ndarray, truth: Mapping[str, np.ndarray], *, params: LensEvaluateParams
) -> LensBreakdown:
    """False-negative rates by source magnitude, θ_E, source redshift and arc SNR; false-positive rates by lens
    magnitude and colour, and by kind of non-lens where the truth has ``kind``.

    Parameters
    ----------
    labels, decisions : ndarray of shape (n,)
    truth : mapping of str to ndarray of shape (n,)
        The :data:`BREAKDOWN_VARIABLES` columns (:func:`lens_truth`).
    params : LensEvaluateParams, keyword-only
        Bins and cuts.

    Returns
    -------
    LensBreakdown
    """
    bins, cuts = {}, {}
    for name, (kind, _, bins_key, cuts_key) in BREAKDOWN_VARIABLES.items():
        values = np.asarray(truth[name], dtype=np.float64)
        bins[name] = rate_by_bin(labels, decisions, values, getattr(params, bins_key), kind=kind)
        cuts[name] = rate_by_cut(labels, decisions, values, getattr(params, cuts_key), kind=kind)
    by_kind = false_positives_by_kind(labels, decisions, truth["kind"]) if "kind" in truth else {}
    return LensBreakdown(bins=bins, cuts=cuts, by_kind=by_kind)


def _auc(fn, y: np.ndarray, s: np.ndarray) -> float | None:
    return fn(y, s) if y.any() and not y.all() else None


@dataclass
class SampleMetrics:
    """Both classes' metrics of one sample at one threshold, with and without the adversarial lenses.

    Attributes
    ----------
    threshold : float
    all, clean : ClassMetrics
        ``clean`` leaves out the adversarial lenses (Table A.1, starred).
    roc_auc, pr_auc : float or None
        Threshold-free, on the whole sample (None with one class only).
    clean_roc_auc : float or None
        ROC-AUC without the adversarial lenses.
    intervals, clean_intervals : dict of str to Interval
        95 % bootstrap intervals of the :meth:`ClassMetrics.as_dict` ratios
        (``accuracy``, ``lens_f1``, ``non_lens_completeness``…) and of
        ``roc_auc`` / ``pr_auc``, with the counts they rest on; empty with
        ``bootstrap_resamples: 0``.
    """

    threshold: float
    all: ClassMetrics
    clean: ClassMetrics
    roc_auc: float | None
    pr_auc: float | None
    clean_roc_auc: float | None = None
    intervals: dict[str, Interval] = field(default_factory=dict)
    clean_intervals: dict[str, Interval] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the class metrics, ``clean`` nested, the AUCs; ``<metric>_lo`` / ``_hi`` and ``n_pos``,
        ``n_neg`` with intervals."""
        return {"threshold": self.threshold, **self.all.as_dict(), "roc_auc": self.roc_auc, "pr_auc": self.pr_auc,
                **intervals_as_dict(self.intervals),
                "clean": {**self.clean.as_dict(), "roc_auc": self.clean_roc_auc,
                          **intervals_as_dict(self.clean_intervals)}}


def class_intervals(y: np.ndarray, s: np.ndarray, threshold: float, *, n_boot: int,
                    seed: int) -> dict[str, Interval]:
    """95 % bootstrap intervals of both classes' purity, completeness and F1, the accuracy and the AUCs.

    Keys as :meth:`ClassMetrics.as_dict` names them with :data:`CLASS_NAMES`
    (``lens_f1``, ``non_lens_purity``…), plus ``accuracy``, ``roc_auc`` and
    ``pr_auc`` (the AUCs only with both classes).  The non-lens figures are
    the lens ones with labels and decisions swapped.  Empty for ``n_boot`` 0
    or an empty sample.
    """
    y = np.asarray(y).astype(bool)
    if n_boot <= 0 or y.size == 0:
        return {}
    d = np.asarray(s) >= threshold
    both = bool(y.any() and not y.all())
    pos = bootstrap_metrics(y, scores=s if both else None, decisions=d, n_boot=n_boot, seed=seed)
    neg = bootstrap_metrics(~y, decisions=~d, metrics=("purity", "completeness", "f1"), n_boot=n_boot, seed=seed)
    out = {"accuracy": pos.pop("accuracy")}
    for name, part in ((CLASS_NAMES[0], pos), (CLASS_NAMES[1], neg)):
        out.update({f"{name}_{k}": part[k] for k in ("purity", "completeness", "f1")})
    out.update({k: pos[k] for k in ("roc_auc", "pr_auc") if k in pos})
    return out


def _sample(y: np.ndarray, s: np.ndarray, adversarial: np.ndarray, threshold: float, *, n_boot: int = 0,
            seed: int = 0) -> SampleMetrics:
    keep = ~adversarial
    return SampleMetrics(threshold=float(threshold),
                         all=class_metrics(y, s >= threshold, class_names=CLASS_NAMES),
                         clean=class_metrics(y[keep], s[keep] >= threshold, class_names=CLASS_NAMES),
                         roc_auc=_auc(roc_auc_score, y, s), pr_auc=_auc(pr_auc_score, y, s),
                         clean_roc_auc=_auc(roc_auc_score, y[keep], s[keep]),
                         intervals=class_intervals(y, s, threshold, n_boot=n_boot, seed=seed),
                         clean_intervals=class_intervals(y[keep], s[keep], threshold, n_boot=n_boot, seed=seed))


@dataclass
class LensEvaluation:
    """What :func:`evaluate_lens` finds.

    Attributes
    ----------
    result : EvaluationResult
        Method ``cnn`` at the operating threshold: validation and test
        metrics and curves, as for every task.
    operating_point : str
        ``fixed``, ``crossing``, ``f1`` or ``balanced``.
    thresholds : dict of str to float
        The four thresholds (``fixed`` from params, the others chosen on validation).
    crossing : dict of str to Crossing
        Purity = completeness on ``val`` (the threshold) and on ``test`` (for comparison).
    pc_curves : dict of str to tuple of ndarray
        ``(thresholds, purity, completeness)`` on ``val`` and ``test`` (Fig. 11).
    test : dict of str to SampleMetrics
        The test split at each of the four thresholds.
    cv : SampleMetrics or None
        The pooled out-of-fold predictions at ``fold_threshold`` (None without them).
    folds : list of dict
        Per-fold metrics (:func:`~skysieve.evaluate.fold_class_metrics`).
    breakdown : dict of str to LensBreakdown
        ``test`` (at the operating threshold) and ``cv`` (at ``fold_threshold``).
    val_scores : ndarray
        The validation probabilities, the reference distribution for rank percentiles.
    test_predictions : dict
        Per-object test decisions at the operating threshold
        (:func:`~skysieve.evaluate.predictions_document`), for the registry's
        paired promotion gate.
    """

    result: EvaluationResult
    operating_point: str
    thresholds: dict[str, float]
    crossing: dict[str, Crossing]
    pc_curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    test: dict[str, SampleMetrics]
    cv: SampleMetrics | None = None
    folds: list[dict[str, float]] = field(default_factory=list)
    breakdown: dict[str, LensBreakdown] = field(default_factory=dict)
    val_scores: np.ndarray = field(default_factory=lambda: np.empty(0))
    test_predictions: dict[str, Any] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        """The operating threshold on the calibrated probability."""
        return self.thresholds[self.operating_point]

    def fold_quartiles(self) -> dict[str, dict[str, float]]:
        """:func:`~skysieve.evaluate.quartile_summary` of every per-fold metric finite in all folds."""
        names = [k for k in (self.folds[0] if self.folds else {}) if k != "fold"]
        out = {}
        for name in names:
            values = np.array([f[name] for f in self.folds], dtype=np.float64)
            if np.isfinite(values).all():
                out[name] = quartile_summary(values)
        return out

    def metrics(self) -> dict[str, Any]:
        """Everything but the curves and bins, nested and JSON-ready (``metrics.json``)."""
        rates = {}
        for sample, b in self.breakdown.items():
            first_fn = b.bins[b.of_kind("false_negative")[0]]
            first_fp = b.bins[b.of_kind("false_positive")[0]]
            rates[sample] = {"fnr": first_fn.total_rate, "fpr": first_fp.total_rate, "fpr_by_kind": b.by_kind}
        return {
            "operating_point": self.operating_point,
            "threshold": self.threshold,
            "thresholds": dict(self.thresholds),
            "crossing": {k: c.as_dict() for k, c in self.crossing.items()},
            "test": {k: m.as_dict() for k, m in self.test.items()},
            "cv": self.cv.as_dict() if self.cv is not None else None,
            "fold_quartiles": self.fold_quartiles(),
            "error_rates": rates,
        }

    def state(self) -> dict[str, Any]:
        """What the registry needs, JSON-ready (``models/lens/evaluation.json``).

        ``thresholds``: ``cnn`` (the operating one) and ``cnn.fixed``,
        ``cnn.crossing``, ``cnn.f1``; ``references``: the validation scores
        (``cnn_prob``), against which rank percentiles are taken;
        ``test_metrics`` / ``val_metrics`` per method (:meth:`registry_metrics`).
        """
        return {
            "task": "lens",
            "operating_point": self.operating_point,
            "thresholds": {"cnn": self.threshold, **{f"cnn.{k}": v for k, v in self.thresholds.items()}},
            "references": {"cnn_prob": [float(x) for x in self.val_scores]},
            "test_metrics": {"cnn": self.registry_metrics()},
            "val_metrics": {"cnn": self.result.val.as_dict()},
            **({"test_predictions": self.test_predictions} if self.test_predictions else {}),
        }

    def registry_metrics(self) -> dict[str, float | int | None]:
        """Flat test metrics at the operating threshold, for the model registry.

        The keys of :meth:`SplitMetrics.as_dict` (``purity``, ``completeness``,
        ``f1``… of the lenses, ``roc_auc``, ``pr_auc``) plus ``non_lens_*``,
        the starred ``clean_*`` F1s, the red members' false-positive rate
        ``red_member_fpr`` (Wilson interval) and the cross-validated ROC-AUC spread;
        ``<metric>_lo`` / ``_hi`` (95 % bootstrap) and ``n_pos`` / ``n_neg``
        where intervals were computed.
        """
        test = self.test[self.operating_point]
        out: dict[str, float | int | None] = dict(self.result.test.as_dict())
        d = test.all.as_dict()
        out.update({k: d[k] for k in ("non_lens_purity", "non_lens_completeness", "non_lens_f1")})
        for k in ("non_lens_purity", "non_lens_completeness", "non_lens_f1"):
            if k in test.intervals:
                out[f"{k}_lo"], out[f"{k}_hi"] = test.intervals[k].lo, test.intervals[k].hi
        clean = test.clean.as_dict()
        out.update({"clean_lens_f1": clean["lens_f1"], "clean_non_lens_f1": clean["non_lens_f1"]})
        red = self.breakdown["test"].by_kind.get(RED_GROUP) if "test" in self.breakdown else None
        if red is not None and red["n"]:
            out.update({"red_member_fpr": red["rate"], "red_member_fpr_lo": red["lo"], "red_member_fpr_hi": red["hi"]})
        aucs = [f["roc_auc"] for f in self.folds if np.isfinite(f["roc_auc"])]
        if aucs:
            out["cv_roc_auc_mean"] = float(np.mean(aucs))
            out["cv_roc_auc_std"] = float(np.std(aucs, ddof=1)) if len(aucs) > 1 else 0.0
        return out


def balanced_threshold(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """The purity = completeness threshold on a sample reweighted to equal class priors.

    With each class weighted by the inverse of its count, the purity is
    TPR / (TPR + FPR) and the completeness TPR, so the two are equal exactly
    where TPR + FPR = 1, i.e. where the lens completeness TPR equals the
    non-lens completeness 1 − FPR (the equal-error point).  As for
    :func:`~skysieve.evaluate.purity_completeness_crossing`, this is the
    highest score threshold at which TPR + FPR ≥ 1.  Unlike the crossing on
    the 2:1 sample (Angora et al. 2023 draw two lenses per non-lens), it does
    not move with the prior the network was trained and calibrated on.

    Parameters
    ----------
    y_true : ndarray of shape (n,), bool
        Needs both classes.
    y_score : ndarray of shape (n,)

    Returns
    -------
    float
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=np.float64)
    if y.all() or not y.any():
        raise DataError("balanced_threshold: the labels need both lenses and non-lenses")
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    candidates = np.unique(s)[::-1]  # descending: TPR + FPR grows
    tpr = (pos.size - np.searchsorted(pos, candidates, side="left")) / pos.size
    fpr = (neg.size - np.searchsorted(neg, candidates, side="left")) / neg.size
    return float(candidates[int(np.flatnonzero(tpr + fpr >= 1.0)[0])])


def _split(scores: Table, name: str) -> Table:
    part = scores[np.char.strip(np.asarray(scores["split"]).astype(str)) == name]
    if len(part) == 0 or int(np.sum(part["label"])) == 0 or int(np.sum(part["label"])) == len(part):
        raise DataError(f"the {name} split needs both lenses and non-lenses (got {int(np.sum(part['label']))} "
                        f"lenses of {len(part)}); change cutouts_lens.split or simulate_lens.n_cutouts")
    return part


def evaluate_lens(
    scores: Table, truth: Table, *, params: LensEvaluateParams, oof: Table | None = None
) -> LensEvaluation:
    """Measure a lens finder as Angora et al. (2023, §4 and appendix A) do.

    Parameters
    ----------
    scores : Table
        ``id``, ``split`` (``val`` and ``test`` rows), ``label`` and
        ``cnn_prob`` (calibrated), as :func:`~skysieve.evaluate.score_cutouts`
        returns.
    truth : Table
        :func:`lens_truth` of the catalog (any superset of the ids).
    params : LensEvaluateParams, keyword-only
    oof : Table, optional
        ``id``, ``label``, ``fold``, ``score_raw``: the out-of-fold
        predictions ``skysieve train`` saves (``oof.fits``); without them
        there are no ``cv`` metrics and no fold spread.

    Returns
    -------
    LensEvaluation

    Raises
    ------
    DataError
        A split without both classes; ids missing from ``truth``.
    """
    val, test = _split(scores, "val"), _split(scores, "test")
    yv, sv = np.asarray(val["label"]).astype(bool), np.asarray(val["cnn_prob"], dtype=np.float64)
    yt, st = np.asarray(test["label"]).astype(bool), np.asarray(test["cnn_prob"], dtype=np.float64)
    crossing_val = purity_completeness_crossing(yv, sv)
    thresholds = {"fixed": float(params.fixed_threshold), "crossing": crossing_val.threshold,
                  "f1": best_f1_threshold(yv, sv)[0], "balanced": balanced_threshold(yv, sv)}
    threshold = thresholds[params.operating_point]
    n_boot, seed = params.bootstrap_resamples, params.bootstrap_seed
    result = evaluate_scores(yv, sv, yt, st, method="cnn", threshold=threshold,
                             params=EvaluateParams(bootstrap_resamples=n_boot, bootstrap_seed=seed))

    truth_test = align_truth(truth, np.asarray(test["id"]))
    adversarial = adversarial_mask(yt, truth_test, params=params.adversarial)
    evaluation = LensEvaluation(
        result=result, operating_point=params.operating_point, thresholds=thresholds,
        crossing={"val": crossing_val, "test": purity_completeness_crossing(yt, st)},
        pc_curves={"val": purity_completeness_curve(yv, sv), "test": purity_completeness_curve(yt, st)},
        test={k: _sample(yt, st, adversarial, t, n_boot=n_boot, seed=seed) for k, t in thresholds.items()},
        breakdown={"test": lens_breakdown(yt, st >= threshold, truth_test, params=params)},
        val_scores=sv,
        test_predictions=predictions_document(np.asarray(test["id"]), yt, {"cnn": st >= threshold}),
    )
    if oof is not None and len(oof):
        folds = np.asarray(oof["fold"])
        keep = folds >= 0
        yo = np.asarray(oof["label"])[keep].astype(bool)
        so = np.asarray(oof["score_raw"], dtype=np.float64)[keep]
        truth_oof = align_truth(truth, np.asarray(oof["id"])[keep])
        t = float(params.fold_threshold)
        evaluation.cv = _sample(yo, so, adversarial_mask(yo, truth_oof, params=params.adversarial), t,
                                n_boot=n_boot, seed=seed)
        evaluation.folds = fold_class_metrics(yo, so, folds[keep], threshold=t, class_names=CLASS_NAMES)
        evaluation.breakdown["cv"] = lens_breakdown(yo, so >= t, truth_oof, params=params)
    return evaluation
