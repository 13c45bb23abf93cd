"""DeepSZ Table 1: confusion counts, purity, completeness and F1 per method, and their evaluation."""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike

from skysieve.config import EvaluateParams
from skysieve.ensemble._methods import CNN_COLUMN, LABEL_COLUMN, METHODS, MF_COLUMN, Ensembles, _column
from skysieve.errors import DataError
from skysieve.evaluate._protocol import EvaluationResult, evaluate_decisions, evaluate_scores
from skysieve.metrics import ConfusionCounts, confusion_counts
from skysieve.metrics._binary import _labels

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = [
    "METHOD_LABELS",
    "comparison_table",
    "comparison_table_from_counts",
    "evaluate_ensembles",
    "table_to_astropy",
    "table_to_markdown",
]

#: How each method is named in tables, as in DeepSZ Table 1.
METHOD_LABELS = {"mf": "MF", "cnn": "CNN", "and": "MF+CNN AND", "rank_product": "MF+CNN rank product"}

_COLUMNS = ("method", "tp", "fp", "fn", "tn", "purity", "completeness", "f1")


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


def comparison_table(labels: ArrayLike, decisions: Mapping[str, ArrayLike]) -> list[dict[str, Any]]:
    """DeepSZ Table 1 from truth and each method's decisions on one split (normally test).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Truth, 0/1 or bool.
    decisions : mapping of str to array-like of shape (n,)
        Decisions per method (e.g. :meth:`Ensembles.decide`); row order
        follows the mapping.

    Returns
    -------
    list of dict
        As :func:`comparison_table_from_counts`.
    """
    y = _labels(labels, "labels")
    return comparison_table_from_counts({name: confusion_counts(y, d) for name, d in decisions.items()})


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
        cells += [f"{row[c]:.{digits}f}" for c in ("purity", "completeness", "f1")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
