"""The detection F1 on the validation fields, as the engine's per-epoch selection metric.

The engine's default follows the validation log-loss of each field's
heatmap maximum ("does this field hold a cluster"); the search is scored on
something else — detections matched to clusters within 100 kpc, at the
F1-best threshold on validation (:mod:`skysieve.tasks.detect.report`).
:func:`detection_f1_score` is that figure computed from the model's output
maps on the validation fields every epoch, so early stopping, the
learning-rate plateau and the weights kept follow it when
``train_detect.monitor`` is ``detect.detection_f1``.

It scores as ``evaluate_detect`` does and with its code (:func:`decode_maps`,
:func:`match_detections`, :func:`f1_curve`, the same threshold grid); what
it needs beyond the maps — each cluster's pixel position and proper kpc per
pixel, and the decoder's settings — is written by ``cutouts_detect`` into
the dataset as ``clusters.fits`` (:func:`cluster_truth`), so the metric
reads only the dataset it is given, in whatever process trains the fold.
"""

from pathlib import Path

import numpy as np
from astropy.table import Table

from skysieve.tasks.detect.evaluate import THRESHOLD_GRID, decode_maps, f1_curve, match_detections

__all__ = ["CLUSTERS_FILE", "best_detection_f1", "cluster_truth", "detection_f1_score", "read_cluster_truth"]

#: The dataset's per-cluster truth and scoring settings, beside ``catalog.fits``.
CLUSTERS_FILE = "clusters.fits"

#: Header keywords of ``clusters.fits`` → the scoring setting each holds.
_SETTINGS = {"MATCHKPC": "match_kpc", "MINSCORE": "min_score", "MAXDET": "max_detections", "PEAKWIN": "window",
             "NMSPX": "nms_px"}


def cluster_truth(truth: Table, *, kpc_per_px: np.ndarray, cfg, nms_px: float) -> Table:
    """The table ``cutouts_detect`` writes as ``clusters.fits``: one row per cluster, the scoring in the header.

    Parameters
    ----------
    truth : Table
        The simulation's ``truth.fits`` (``field``, ``x_px``, ``y_px``, ``z``; pixels of the stored fields).
    kpc_per_px : ndarray of shape (len(truth),)
        Proper kpc per stored pixel at each cluster's redshift
        (:func:`skysieve.tasks.detect.report.kpc_per_pixel`).
    cfg : EvaluateDetectParams
        ``match_kpc``, ``min_score``, ``max_detections``, ``peak_window_px``.
    nms_px : float
        The merging radius in stored pixels (:func:`~skysieve.tasks.detect.report.nms_radius_arcsec` / pixel).

    Returns
    -------
    Table
        ``field``, ``x_px``, ``y_px``, ``z``, ``kpc_per_px``; header ``MATCHKPC``, ``MINSCORE``, ``MAXDET``,
        ``PEAKWIN``, ``NMSPX``.
    """
    table = Table({"field": np.asarray(truth["field"], dtype=np.int64),
                   "x_px": np.asarray(truth["x_px"], dtype=np.float64),
                   "y_px": np.asarray(truth["y_px"], dtype=np.float64),
                   "z": np.asarray(truth["z"], dtype=np.float64),
                   "kpc_per_px": np.asarray(kpc_per_px, dtype=np.float64)})
    table.meta.update({"MATCHKPC": float(cfg.match_kpc), "MINSCORE": float(cfg.min_score),
                       "MAXDET": int(cfg.max_detections), "PEAKWIN": int(cfg.peak_window_px),
                       "NMSPX": float(nms_px)})
    table.meta["COMMENTS"] = ["cluster centres (stored pixels) and proper kpc per pixel at each z; header: the "
                              "evaluate_detect scoring the validation metric applies (skysieve.tasks.detect.selection)"]
    return table


def read_cluster_truth(dataset) -> tuple[Table, dict]:
    """``clusters.fits`` of a dataset and its scoring settings (``match_kpc``, ``min_score``, …, ``nms_px``).

    Raises
    ------
    DataError
        The file is missing (a dataset written before it existed) or lacks a setting.
    """
    from skysieve.errors import DataError

    path = Path(dataset.catalog_path).with_name(CLUSTERS_FILE)
    if not path.is_file():
        raise DataError(f"{path}: not found; the detect validation metric (train_detect.monitor: "
                        "detect.detection_f1) reads it — re-make the dataset with `skysieve cutouts detect` "
                        "(or set train_detect.monitor: val_loss)")
    table = Table.read(path)
    missing = [k for k in _SETTINGS if k not in table.meta]
    if missing:
        raise DataError(f"{path}: header lacks {', '.join(missing)}; re-make it with `skysieve cutouts detect`")
    settings = {name: table.meta[key] for key, name in _SETTINGS.items()}
    settings["max_detections"], settings["window"] = int(settings["max_detections"]), int(settings["window"])
    return table, settings


def best_detection_f1(maps: np.ndarray, fields: np.ndarray, truth: Table, *, stride: int, match_kpc: float,
                      min_score: float, max_detections: int, window: int, nms_px: float,
                      thresholds: np.ndarray = THRESHOLD_GRID) -> float:
    r"""The F1 of the detections in ``maps`` at the threshold of ``thresholds`` that maximises it.

    .. math:: F_1^{best} = \max_t \frac{2\,TP(t)}{2\,TP(t) + FP(t) + FN(t)}

    Detections are heatmap peaks merged within ``nms_px`` (:func:`decode_maps`),
    matched one to one to the clusters of their field within ``match_kpc``
    proper (:func:`match_detections`); every cluster of ``fields`` counts, found
    or not.

    Parameters
    ----------
    maps : ndarray of shape (n, ty, tx, 3)
        Output maps (heatmap, log width, log height) of ``n`` fields.
    fields : ndarray of int, shape (n,)
        The field id of each map (``truth["field"]``).
    truth : Table
        ``field``, ``x_px``, ``y_px``, ``kpc_per_px`` per cluster (any fields; those of ``fields`` are used).
    stride : int
        Input pixels per map cell.

    Returns
    -------
    float
        0 when no detection matches; NaN when the fields hold no cluster.
    """
    fields = np.asarray(fields, dtype=np.int64)
    mine = truth[np.isin(np.asarray(truth["field"], dtype=np.int64), fields)]
    if len(mine) == 0:
        return float("nan")
    # Peaks below the lowest threshold change nothing above it: they are decoded, merged and matched after every
    # stronger one, so they cannot suppress, crowd out or take a cluster from a detection that counts.
    floor = max(float(min_score), float(np.min(thresholds)))
    det = decode_maps(maps, stride=stride, min_score=floor, max_detections=max_detections, window=window,
                      nms_px=nms_px)
    if len(det) == 0:
        return 0.0
    det["image"] = fields[np.asarray(det["image"], dtype=np.int64)]
    tr = Table({"image": np.asarray(mine["field"], dtype=np.int64), "x_px": mine["x_px"], "y_px": mine["y_px"]})
    matches = match_detections(det, tr, kpc_per_px=np.asarray(mine["kpc_per_px"], float), match_kpc=match_kpc)
    return float(np.max(f1_curve(np.asarray(det["score"]), matches.det_cluster, len(tr), thresholds)))


def detection_f1_score(outputs: np.ndarray, dataset, rows: np.ndarray) -> float:
    """The engine hook (``Search.validation_metric("detection_f1")``): best-threshold detection F1 of ``rows``.

    Parameters
    ----------
    outputs : ndarray of shape (len(rows), ty, tx, 3)
        The model's output maps on the dataset rows ``rows``, in that order.
    dataset : CutoutDataset
        A ``cutouts_detect`` dataset (its ``clusters.fits`` and dense-target stride are read).
    rows : ndarray of int

    Returns
    -------
    float
        :func:`best_detection_f1` with the dataset's scoring settings; higher is better.
    """
    from skysieve.data.targets import dense_targets
    from skysieve.errors import DataError

    targets = dense_targets(dataset)
    if targets is None:
        raise DataError(f"{dataset.tensor_path}: no dense targets; the detect validation metric needs a "
                        "`skysieve cutouts detect` dataset")
    truth, settings = read_cluster_truth(dataset)
    fields = np.asarray(dataset.catalog["id"], dtype=np.int64)[np.asarray(rows, dtype=np.int64)]
    return best_detection_f1(np.asarray(outputs), fields, truth, stride=targets.stride, **settings)
