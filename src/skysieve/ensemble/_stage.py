"""The ``ensemble_<search>`` stage as a library call: fit MF+CNN ensembles on validation, report on test.

With ``evaluate.bootstrap_resamples`` > 0 every figure gets its 95 % interval
(thresholds fixed), the ensemble − single differences their paired intervals,
and both again with every method refitted per validation resample
(:func:`~skysieve.ensemble.refit_bootstrap`).
"""

import numpy as np
from astropy.table import Table

from skysieve.config import EnsembleParams, EvaluateParams
from skysieve.ensemble._disagree import disagreement_report, truth_assisted_row
from skysieve.ensemble._methods import Ensembles, fit_ensembles
from skysieve.ensemble._refit import refit_as_dict, refit_bootstrap
from skysieve.ensemble._table import comparison_table, ensemble_differences, evaluate_ensembles
from skysieve.evaluate._predictions import predictions_document

__all__ = ["EnsembleOutcome", "run_ensembles"]


class EnsembleOutcome:
    """Fitted ensembles, their evaluation per method, DeepSZ's table on the test split (with 95 % intervals),
    and the paired-bootstrap F1 differences ensemble − single method (``differences``, keyed ``and_minus_mf``…)."""

    def __init__(self, ensembles: Ensembles, results: dict, table: list[dict], differences: dict | None = None,
                 test_predictions: dict | None = None, refit: tuple[dict, dict] | None = None,
                 disagreement: dict | None = None, truth_assisted: dict | None = None):
        self.ensembles = ensembles
        self.results = results
        self.table = table
        self.differences = differences or {}
        #: Per-object test decisions of every method (:func:`~skysieve.evaluate.predictions_document`).
        self.test_predictions = test_predictions or {}
        #: ``(f1, differences)`` with every method refitted per validation resample (:func:`refit_bootstrap`).
        self.refit = refit
        #: Test objects by (MF, CNN) decision pair, overall and per truth bin (:func:`disagreement_report`).
        self.disagreement = disagreement or {}
        #: The test rows and each method's boolean decisions on them (set by :func:`run_ensembles`).
        self.test: Table | None = None
        self.decisions: dict[str, np.ndarray] = {}
        #: The MF row with the truth-assisted assignment (:func:`truth_assisted_row`), or None.
        self.truth_assisted = truth_assisted

    def refit_dict(self) -> dict:
        """:attr:`refit`, JSON-ready and numbers only (``metrics.json`` section ``with_refit``); empty without."""
        return refit_as_dict(*self.refit) if self.refit else {}

    def differences_dict(self) -> dict[str, dict]:
        """The differences, JSON-ready and numbers only (``metrics.json`` section ``differences``):
        ``{metric: {"and_minus_mf": {"value", "lo", "hi", "n_pos", "n_neg", "n_boot", "fraction_not_above_zero"}}}``."""
        out: dict[str, dict] = {}
        for key, d in self.differences.items():
            out.setdefault(d.metric, {})[key] = {k: v for k, v in d.as_dict().items() if k != "metric"}
        return out


def run_ensembles(scores: Table, *, params: EnsembleParams, evaluate: EvaluateParams) -> EnsembleOutcome:
    """Fit every method (MF, CNN, AND, rank product) on ``val`` rows of ``scores``; evaluate on ``test``.

    ``scores`` is the table of the ``evaluate`` stage (``split``, ``label``,
    ``cnn_prob``, ``mf_snr`` and truth columns; ``mf_snr_truth`` optional).
    Also counts where the MF and the CNN disagree (:func:`disagreement_report`)
    and, with ``mf_snr_truth``, the truth-assisted MF row.
    """
    val = scores[scores["split"] == "val"]
    test = scores[scores["split"] == "test"]
    ensembles = fit_ensembles(val, params=params)
    truth = {c: test[c] for c in (evaluate.mass_column, evaluate.redshift_column, evaluate.offset_column)
             if c in test.colnames}
    results = evaluate_ensembles(ensembles, val, test, truth=truth, params=evaluate)
    decisions = ensembles.decide(np.asarray(test["cnn_prob"], float), np.asarray(test["mf_snr"], float))
    labels = np.asarray(test["label"])
    n_boot, seed = evaluate.bootstrap_resamples, evaluate.bootstrap_seed
    table = comparison_table(labels, decisions, n_boot=n_boot, seed=seed)
    differences = ensemble_differences(labels, decisions, n_boot=n_boot, seed=seed) if n_boot > 0 else {}
    ids = np.asarray(test["id"]) if "id" in test.colnames else np.arange(len(test))
    refit = refit_bootstrap(val, test, params=params, n_boot=n_boot, seed=seed) if n_boot > 0 else None
    bins = {evaluate.mass_column: evaluate.mass_bins_msun, evaluate.redshift_column: evaluate.redshift_bins}
    disagreement = disagreement_report(labels, decisions["mf"], decisions["cnn"], truth=truth, bins=bins)
    truth_assisted = truth_assisted_row(val, test, n_boot=n_boot, seed=seed)
    outcome = EnsembleOutcome(ensembles, results, table, differences, predictions_document(ids, labels, decisions),
                              refit, disagreement, truth_assisted)
    outcome.test = test
    outcome.decisions = decisions
    return outcome
