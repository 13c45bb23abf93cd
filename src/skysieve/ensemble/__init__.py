"""MF + CNN ensembles (DeepSZ section 3.2): the AND and rank-product combinations.

Every method is fitted on the validation split and applied unchanged to any
other cutouts; rank percentiles are taken against the stored validation score
distributions, never against the batch being scored.
"""

from skysieve.ensemble._methods import (
    CNN_COLUMN,
    LABEL_COLUMN,
    METHODS,
    MF_COLUMN,
    AndEnsemble,
    Ensembles,
    RankProductEnsemble,
    ThresholdClassifier,
    fit_ensembles,
)
from skysieve.ensemble._disagree import (
    CATEGORIES,
    TRUTH_MF_COLUMN,
    disagreement_categories,
    disagreement_gallery,
    disagreement_markdown,
    disagreement_report,
    truth_assisted_row,
    write_disagreement,
)
from skysieve.ensemble._reference import ReferenceDistribution, rank_percentile
from skysieve.ensemble._refit import refit_as_dict, refit_bootstrap
from skysieve.ensemble._stage import EnsembleOutcome, run_ensembles
from skysieve.ensemble._table import (
    METHOD_LABELS,
    comparison_table,
    comparison_table_from_counts,
    differences_to_markdown,
    ensemble_differences,
    evaluate_ensembles,
    table_to_astropy,
    table_to_markdown,
)

__all__ = [
    "CATEGORIES",
    "TRUTH_MF_COLUMN",
    "disagreement_categories",
    "disagreement_gallery",
    "disagreement_markdown",
    "disagreement_report",
    "truth_assisted_row",
    "write_disagreement",
    "EnsembleOutcome",
    "run_ensembles",
    "CNN_COLUMN",
    "LABEL_COLUMN",
    "METHODS",
    "METHOD_LABELS",
    "MF_COLUMN",
    "AndEnsemble",
    "Ensembles",
    "RankProductEnsemble",
    "ReferenceDistribution",
    "ThresholdClassifier",
    "comparison_table",
    "comparison_table_from_counts",
    "differences_to_markdown",
    "ensemble_differences",
    "evaluate_ensembles",
    "fit_ensembles",
    "rank_percentile",
    "refit_as_dict",
    "refit_bootstrap",
    "table_to_astropy",
    "table_to_markdown",
]
