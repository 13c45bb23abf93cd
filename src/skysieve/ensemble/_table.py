"""DeepSZ Table 1: confusion counts, purity, completeness and F1 per method, and their evaluation.

Every ratio carries its 95 % bootstrap interval over the test objects where
the caller asks for resamples, and :func:`ensemble_differences` gives the
paired-bootstrap interval of each ensemble-minus-single-method difference —
the paper's claim (ensembles beat both single methods) as a measured interval.
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike

from skysieve.config import EvaluateParams
from skysieve.ensemble._methods import CNN_COLUMN, LABEL_COLUMN, METHODS, MF_COLUMN, Ensembles, _column
from skysieve.errors import DataError
from skysieve.evaluate._protocol import EvaluationResult, evaluate_decisions, evaluate_scores
from skysieve.metrics import (
    ConfusionCounts,
    Difference,
    bootstrap_metrics,
    confusion_counts,
    paired_bootstrap_difference,
)
from skysieve.metrics._binary import _labels

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "METHOD_LABELS",
    "comparison_table",
    "comparison_table_from_counts",
    "differences_to_markdown",
    "ensemble_differences",
    "evaluate_ensembles",
    "table_to_astropy",
    "table_to_markdown",
]

#: How each method is named in tables, as in DeepSZ Table 1.
METHOD_LABELS = {"mf": "MF", "cnn": "CNN", "and": "MF+CNN AND", "rank_product": "MF+CNN rank product",
                 "mf_truth_assisted": "MF, truth-assisted assignment (for comparison)"}

_COLUMNS = ("method", "tp", "fp", "fn", "tn", "purity", "completeness", "f1")
_RATIOS = ("purity", "completeness", "f1")
#: The differences the paper's claim rests on: (ensemble, single method).
DIFFERENCES = (("and", "mf"), ("and", "cnn"), ("rank_product", "mf"), ("rank_product", "cnn"))


def comparison_table_from_counts(counts: Mapping[str, ConfusionCounts]) -> list[dict[str, Any]]:
    """One row per method: TP, FP, FN, TN, purity, completeness, F1.

    Parameters
    ----------
    counts : mapping of str to ConfusionCounts
        Keyed by method name, in the order the rows should take.

    Returns
    -------
    list of dict
        Keys ``method``, ``tp``, ``fp``, ``fn``, ``tn``, ``purity``,
        ``completeness``, ``f1``.
    """
    return [
        {
            "method": name,
            "tp": c.tp,
            "fp": c.fp,
            "fn": c.fn,
            "tn": c.tn,
            "purity": c.purity,
            "completeness": c.completeness,
            "f1": c.f1,
        }
        for name, c in counts.items()
    ]


def comparison_table(labels: ArrayLike, decisions: Mapping[str, ArrayLike], *, n_boot: int = 0,
                     seed: int = 0) -> list[dict[str, Any]]:
    """DeepSZ Table 1 from truth and each method's decisions on one split (normally test).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Truth, 0/1 or bool.
    decisions : mapping of str to array-like of shape (n,)
        Decisions per method (e.g. :meth:`Ensembles.decide`); row order
        follows the mapping.
    n_boot : int, keyword-only
        Bootstrap resamples (:func:`~skysieve.metrics.bootstrap_metrics`, the
        same for every method): each row gains ``purity_lo`` / ``purity_hi``,
        ``completeness_lo``…, ``f1_hi`` (95 %) and ``n_pos``, ``n_neg``.  0
        (the default) adds none.
    seed : int, keyword-only

    Returns
    -------
    list of dict
        As :func:`comparison_table_from_counts`, plus the intervals.
    """
    y = _labels(labels, "labels")
    rows = comparison_table_from_counts({name: confusion_counts(y, d) for name, d in decisions.items()})
    if n_boot > 0:
        for row, d in zip(rows, decisions.values(), strict=True):
            intervals = bootstrap_metrics(y, decisions=d, metrics=_RATIOS, n_boot=n_boot, seed=seed)
            for k, iv in intervals.items():
                row[f"{k}_lo"], row[f"{k}_hi"] = iv.lo, iv.hi
            row["n_pos"], row["n_neg"] = int(y.sum()), int(y.size - y.sum())
    return rows


def ensemble_differences(labels: ArrayLike, decisions: Mapping[str, ArrayLike], *, metric: str = "f1",
                         n_boot: int = 1000, seed: int = 0,
                         pairs: Sequence[tuple[str, str]] = DIFFERENCES) -> dict[str, Difference]:
    """The paired-bootstrap interval of each ensemble-minus-single-method difference (DeepSZ's claim).

    Both methods of a pair are scored on the same resampled test objects
    (:func:`~skysieve.metrics.paired_bootstrap_difference`), so what they
    share — the clusters both find, the noise peaks both flag — cancels.

    Parameters
    ----------
    labels : array-like of shape (n,)
    decisions : mapping of str to array-like of shape (n,)
        Decisions per method (:meth:`Ensembles.decide`).
    metric : str, keyword-only
        ``f1`` (default), ``purity``, ``completeness`` or ``accuracy``.
    n_boot, seed : int, keyword-only
    pairs : sequence of (str, str), keyword-only
        ``(a, b)`` pairs; default AND − MF, AND − CNN, rank product − MF,
        rank product − CNN (those whose methods are present).

    Returns
    -------
    dict of str to Difference
        Keyed ``"<a>_minus_<b>"``.
    """
    y = _labels(labels, "labels")
    return {f"{a}_minus_{b}": paired_bootstrap_difference(y, decisions[a], decisions[b], metric=metric,
                                                          n_boot=n_boot, seed=seed)
            for a, b in pairs if a in decisions and b in decisions}


def _verdict(d: Difference) -> str:
    if d.lo > 0:
        return "better beyond the noise"
    if d.hi < 0:
        return "worse beyond the noise"
    return "not distinguishable"


def differences_to_markdown(differences: Mapping[str, Difference], *, digits: int = 2,
                            title: str | None = None) -> str:
    """The paired differences as a Markdown table: difference, 95 % interval, share of resamples ≤ 0, verdict.

    ``title`` replaces the line above the table (default: what was resampled and how often).
    """
    if not differences:
        return ""
    first = next(iter(differences.values()))
    default = (f"{first.metric.upper() if first.metric == 'f1' else first.metric} of each ensemble minus a single "
               f"method, paired bootstrap over the {first.n} test cutouts ({first.n_pos} positive), "
               f"{first.n_boot} resamples:")
    lines = [title or default, "",
             "| Difference | Value | 95 % interval | Resamples ≤ 0 | Verdict |", "|:--|--:|--:|--:|:--|"]
    for key, d in differences.items():
        a, _, b = key.partition("_minus_")
        name = f"{METHOD_LABELS.get(a, a)} − {METHOD_LABELS.get(b, b)}"
        lines.append(f"| {name} | {d.value:+.{digits}f} | {d.lo:+.{digits}f} … {d.hi:+.{digits}f} | "
                     f"{d.fraction_not_above_zero:.1%} | {_verdict(d)} |")
    return "\n".join(lines) + "\n"


def table_to_astropy(rows: Sequence[Mapping[str, Any]]) -> "Table":
    """The rows of :func:`comparison_table` as an :class:`astropy.table.Table`."""
    from astropy.table import Table

    table = Table(rows=[[row[c] for c in _COLUMNS] for row in rows], names=_COLUMNS)
    for c in ("purity", "completeness", "f1"):
        table[c].format = ".3f"
    return table


def table_to_markdown(rows: Sequence[Mapping[str, Any]], *, digits: int = 2) -> str:
    """Render the rows of :func:`comparison_table` as a GitHub Markdown table.

    Parameters
    ----------
    rows : sequence of mapping
        With ``<ratio>_lo`` / ``<ratio>_hi`` (``comparison_table(..., n_boot=...)``)
        each ratio prints its interval in brackets, and a note names the counts.
    digits : int, keyword-only
        Decimals of purity, completeness and F1 (DeepSZ prints 2).

    Returns
    -------
    str
        Header, alignment row and one line per method, ending in a newline.
    """
    header = ["Method", "TP", "FP", "FN", "TN", "Purity", "Completeness", "F1"]
    lines = ["| " + " | ".join(header) + " |", "|:--" + "|--:" * (len(header) - 1) + "|"]
    for row in rows:
        name = METHOD_LABELS.get(row["method"], row["method"])
        cells = [name, *(str(row[c]) for c in ("tp", "fp", "fn", "tn"))]
        for c in _RATIOS:
            cell = f"{row[c]:.{digits}f}"
            if f"{c}_lo" in row:
                cell += f" ({row[f'{c}_lo']:.{digits}f}–{row[f'{c}_hi']:.{digits}f})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    with_iv = [r for r in rows if "n_pos" in r]
    if with_iv:
        r = with_iv[0]
        text += (f"\nIn brackets: 95 % bootstrap intervals over the {r['n_pos'] + r['n_neg']} test cutouts "
                 f"({r['n_pos']} positive), thresholds held fixed.\n")
    return text


def evaluate_ensembles(
    ensembles: Ensembles,
    val: Any,
    test: Any,
    *,
    truth: Mapping[str, ArrayLike] | None = None,
    params: EvaluateParams | None = None,
) -> dict[str, EvaluationResult]:
    """Evaluate every fitted method on validation and test at its validation thresholds.

    Parameters
    ----------
    ensembles : Ensembles
        Fitted on ``val`` (:func:`fit_ensembles`).
    val, test : table-like
        Columns ``label``, ``cnn_prob``, ``mf_snr``.
    truth : mapping, optional, keyword-only
        Test-split truth columns (see :func:`~skysieve.evaluate.evaluate_scores`).
    params : EvaluateParams, optional, keyword-only

    Returns
    -------
    dict of str to EvaluationResult
        Keyed by :data:`METHODS`; ``rows = comparison_table_from_counts({m: r.test.counts ...})``
        gives DeepSZ Table 1.
    """
    yv = _column(val, LABEL_COLUMN)
    yt = _column(test, LABEL_COLUMN)
    if len(yv) == 0 or len(yt) == 0:
        raise DataError("evaluate_ensembles: the validation or test table is empty")
    sv = ensembles.score(_column(val, CNN_COLUMN), _column(val, MF_COLUMN))
    st = ensembles.score(_column(test, CNN_COLUMN), _column(test, MF_COLUMN))
    thresholds = ensembles.thresholds()
    out: dict[str, EvaluationResult] = {}
    for method in METHODS:
        if method == "and":
            dv = ensembles.and_.decide(val)
            dt = ensembles.and_.decide(test)
            out[method] = evaluate_decisions(
                yv, dv, yt, dt, method=method,
                thresholds={"and.cnn": thresholds["and.cnn"], "and.mf": thresholds["and.mf"]},
                truth=truth, params=params,
            )  # fmt: skip
        else:
            out[method] = evaluate_scores(
                yv, sv[method], yt, st[method], method=method, threshold=thresholds[method], truth=truth, params=params
            )
    return out
