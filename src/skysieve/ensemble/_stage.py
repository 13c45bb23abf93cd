"""The ``ensemble_<search>`` stage as a library call: fit MF+CNN ensembles on validation, report on test."""

import numpy as np
from astropy.table import Table

from skysieve.config import EnsembleParams, EvaluateParams
from skysieve.ensemble._methods import Ensembles, fit_ensembles
from skysieve.ensemble._table import comparison_table, evaluate_ensembles

__all__ = ["EnsembleOutcome", "run_ensembles"]


class EnsembleOutcome:
    """Fitted ensembles, their evaluation per method and DeepSZ's table on the test split."""

    def __init__(self, ensembles: Ensembles, results: dict, table: list[dict]):
        self.ensembles = ensembles
        self.results = results
        self.table = table


def run_ensembles(scores: Table, *, params: EnsembleParams, evaluate: EvaluateParams) -> EnsembleOutcome:
    """Fit every method (MF, CNN, AND, rank product) on ``val`` rows of ``scores``; evaluate on ``test``.

    ``scores`` is the table of the ``evaluate`` stage (``split``, ``label``,
    ``cnn_prob``, ``mf_snr`` and truth columns).
    """
    val = scores[scores["split"] == "val"]
    test = scores[scores["split"] == "test"]
    ensembles = fit_ensembles(val, params=params)
    truth = {c: test[c] for c in (evaluate.mass_column, evaluate.redshift_column, evaluate.offset_column)
             if c in test.colnames}
    results = evaluate_ensembles(ensembles, val, test, truth=truth, params=evaluate)
    decisions = ensembles.decide(np.asarray(test["cnn_prob"], float), np.asarray(test["mf_snr"], float))
    table = comparison_table(np.asarray(test["label"]), decisions)
    return EnsembleOutcome(ensembles, results, table)
