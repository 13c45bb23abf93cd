"""The ``evaluate_<search>`` stage as a library call: score the cutouts, evaluate MF and CNN.

The CNN scores validation and test cutouts streamed from disk; the MF score is
the ``mf_snr`` of the matched-filter stage (``mf_<search>``), joined on ``id``.
Thresholds are chosen on validation and applied unchanged to test (:func:`evaluate_scores`).
"""

from pathlib import Path

import numpy as np
from astropy.table import Table, join

from skysieve.config import EvaluateParams
from skysieve.data.dataset import CutoutDataset
from skysieve.errors import DataError
from skysieve.evaluate._protocol import EvaluationResult, evaluate_scores
from skysieve.metrics import Interval, f1_score, pr_auc_score, roc_auc_score, threshold_bootstrap

__all__ = ["SCORE_COLUMNS", "evaluate_methods", "fold_metrics_from_oof", "score_cutouts", "threshold_noise"]

#: Columns of the scores table handed from ``evaluate`` to ``ensemble``.
SCORE_COLUMNS = ("id", "split", "label", "cnn_prob", "mf_snr")


def score_cutouts(dataset: CutoutDataset, model, mf_scores: Table | None = None, *, splits=("val", "test"),
                  batch_size: int = 512) -> Table:
    """CNN probabilities (and MF SNRs, where there is a matched filter) for every cutout of ``splits``.

    Parameters
    ----------
    dataset : CutoutDataset
    model : FoldEnsemble
        From :func:`skysieve.train.load_trained`; calibrated probabilities.
    mf_scores : Table, optional
        ``id`` and ``mf_snr`` for every cutout (the matched-filter stage's output); tasks
        without a matched filter (lenses) leave it out and get no ``mf_snr``.  Its
        ``mf_snr_truth`` (the truth-assisted assignment), where present, is carried along.

    Returns
    -------
    Table
        :data:`SCORE_COLUMNS` (less ``mf_snr`` without ``mf_scores``) plus the
        catalog's truth columns, rows in catalog order.
    """
    from skysieve.train import predict_dataset

    catalog = dataset.catalog
    split = np.char.strip(np.asarray(catalog["split"], dtype=str))
    rows = np.flatnonzero(np.isin(split, splits))
    if rows.size == 0:
        raise DataError(f"{dataset.catalog_path}: no cutouts in splits {list(splits)}")
    missing = set()
    if mf_scores is not None:
        missing = set(np.asarray(catalog["id"])[rows]) - set(np.asarray(mf_scores["id"]))
    if missing:
        raise DataError(f"mf_snr table lacks {len(missing)} cutout ids (e.g. {sorted(missing)[:3]}); "
                        "rerun the matched-filter stage (`skysieve mf <search>`) on the same cutouts")
    table = catalog[rows]
    table["split"] = split[rows]
    table["cnn_prob"] = predict_dataset(model, dataset, rows, batch_size=batch_size)
    if mf_scores is None:
        return table
    table["_order"] = np.arange(len(table))
    extra = [c for c in ("mf_snr_truth",) if c in mf_scores.colnames]  # truth-assisted MF, for comparison
    table = join(table, mf_scores["id", "mf_snr", *extra], keys="id", join_type="left")
    table.sort("_order")
    table.remove_column("_order")
    return table


def evaluate_methods(scores: Table, *, params: EvaluateParams) -> dict[str, EvaluationResult]:
    """Evaluate the MF (score ``mf_snr``) and the CNN (``cnn_prob``) with validation thresholds."""
    val = scores[scores["split"] == "val"]
    test = scores[scores["split"] == "test"]
    for name, part in (("val", val), ("test", test)):
        if len(part) == 0 or int(np.sum(part["label"])) == 0:
            raise DataError(f"the {name} split has no positive cutouts; enlarge the simulation or change the split "
                            "of the search's cutouts section")
    truth = {c: test[c] for c in (params.mass_column, params.redshift_column, params.offset_column)
             if c in test.colnames}
    return {
        method: evaluate_scores(np.asarray(val["label"]), np.asarray(val[column], float),
                                np.asarray(test["label"]), np.asarray(test[column], float),
                                method=method, truth=truth, params=params)
        for method, column in (("mf", "mf_snr"), ("cnn", "cnn_prob"))
    }


def threshold_noise(scores: Table, *, params: EvaluateParams) -> dict[str, dict[str, Interval]]:
    """Test purity, completeness and F1 of the MF and the CNN with the threshold re-chosen on each validation
    resample (:func:`~skysieve.metrics.threshold_bootstrap`): the validation noise of the threshold included.

    Empty with ``bootstrap_resamples: 0``; methods whose score column is missing are left out.
    """
    if params.bootstrap_resamples <= 0:
        return {}
    val = scores[scores["split"] == "val"]
    test = scores[scores["split"] == "test"]
    return {method: threshold_bootstrap(np.asarray(val["label"]), np.asarray(val[column], float),
                                        np.asarray(test["label"]), np.asarray(test[column], float),
                                        n_boot=params.bootstrap_resamples, seed=params.bootstrap_seed)
            for method, column in (("mf", "mf_snr"), ("cnn", "cnn_prob")) if column in scores.colnames}


def fold_metrics_from_oof(path: str | Path) -> list[dict[str, float]]:
    """Per-fold metrics from the out-of-fold predictions ``skysieve train`` saved (``oof.fits``).

    Each fold's F1 is taken at its own F1-maximising threshold, as in k-fold CV.
    """
    from skysieve.metrics import best_f1_threshold

    path = Path(path)
    if not path.is_file():
        return []
    oof = Table.read(path)
    fold_col, score_col = "fold", "score_raw"
    if not {fold_col, score_col, "label"} <= set(oof.colnames):
        raise DataError(f"{path}: expected columns fold, score_raw, label (got {oof.colnames})")
    out = []
    for fold in np.unique(oof[fold_col]):
        if fold < 0:
            continue
        part = oof[oof[fold_col] == fold]
        y, s = np.asarray(part["label"]), np.asarray(part[score_col], float)
        if y.min() == y.max():
            continue
        t, _ = best_f1_threshold(y, s)
        out.append({"fold": int(fold), "roc_auc": roc_auc_score(y, s), "pr_auc": pr_auc_score(y, s),
                    "f1": f1_score(y, (s >= t).astype(int))})
    return out
