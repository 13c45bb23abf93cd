"""Chan & Stott's scoring: detections from heatmaps, matching within 100 kpc, P/R/F1, centre error, KS, COCO mAP.

Pure functions of arrays and tables; the report (files, MLflow) is in
:mod:`skysieve.tasks.detect.report`.
"""

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

__all__ = [
    "THRESHOLD_GRID",
    "Matches",
    "bootstrap_fields",
    "coco_map",
    "decode_maps",
    "detection_counts",
    "f1_curve",
    "ks_bias",
    "match_detections",
    "predict_maps",
    "resampled_thresholds",
    "undo_dihedral",
]

#: Thresholds searched for the F1-best operating point on validation (``evaluate_detect``, the selection metric).
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.025), 3)


def undo_dihedral(maps: np.ndarray, k: int) -> np.ndarray:
    """Output maps (heatmap, log w, log h) of an input turned by D4 element ``k``, brought back to its frame.

    Element ``k`` (0–7, :func:`skysieve.data.dihedral.dihedral`) is ``k % 4`` quarter
    turns, then a left–right mirror if ``k ≥ 4``; the inverse is the mirror
    first, then ``−(k % 4)`` quarter turns. After an odd number of quarter
    turns the box's width and height channels swap (the pairs
    :func:`skysieve.data.transpose_pairs` finds, as the training augmentation swaps them).
    """
    from skysieve.data.targets import transpose_pairs
    from skysieve.tasks.detect.dataset import TARGET_CHANNELS

    y = maps[:, :, ::-1] if k >= 4 else maps
    y = np.rot90(y, -(k % 4), axes=(1, 2))
    if k % 2:
        order = list(range(y.shape[-1]))
        for a, b in transpose_pairs(TARGET_CHANNELS):
            order[a], order[b] = b, a
        y = y[..., order]
    return y


def predict_maps(models, x: np.ndarray, *, batch_size: int = 16, tta: bool = False) -> np.ndarray:
    r"""Mean of the fold models' output maps (heatmap, log w, log h) on images ``x`` (n, ny, nx, nchan).

    With ``tta`` (test-time augmentation) each image is also scored in its
    seven other orientations of the square's dihedral group D4 — the
    rotations and flips the training augmentation draws — and each output is
    brought back to the image's frame (:func:`undo_dihedral`) before the mean:

    .. math:: \bar H = \frac{1}{8\,n_{models}} \sum_{m} \sum_{g \in D_4} g^{-1}\, f_m(g\,x)

    It costs 8 predictions per image. The orientations map the stride-``s``
    output grid onto itself exactly when the side is a multiple of ``s`` (the
    cell centres :math:`(c + 1/2)s - 1/2` are symmetric about the image centre).
    """
    x = np.asarray(x)
    if tta and x.ndim == 4 and x.shape[1] != x.shape[2]:
        raise ValueError(f"test-time augmentation needs square images (got {x.shape[1]} × {x.shape[2]})")
    from skysieve.data.dihedral import dihedral

    views = (0, 4, 1, 5, 2, 6, 3, 7) if tta else (0,)  # each turn, then the same turn mirrored
    out = []
    for start in range(0, x.shape[0], batch_size):
        chunk = np.asarray(x[start: start + batch_size], dtype=np.float32)
        preds = []
        for k in views:
            xin = np.ascontiguousarray(dihedral(chunk, k)) if k else chunk
            preds += [undo_dihedral(np.asarray(m.predict_on_batch(xin)), k) for m in models]
        out.append(np.mean(preds, axis=0))
    return np.concatenate(out) if out else np.empty((0,))


def decode_maps(maps: np.ndarray, *, stride: int, min_score: float, max_detections: int, window: int = 3,
                nms_px: float = 0.0) -> Table:
    """Detections of a stack of output maps: heatmap peaks, their refined centres and boxes, in input pixels.

    A peak is a heatmap cell equal to the maximum of its ``window × window``
    neighbourhood and ≥ ``min_score``; its centre is the heatmap-weighted
    centroid of the 3 × 3 cells around it, mapped to input pixels by
    :math:`x = (c + 1/2)\\,s - 1/2`; its box is ``exp`` of the size channels × ``stride``.
    With ``nms_px`` > 0, greedy non-maximum suppression follows, best first:
    a peak whose refined centre lies within ``nms_px`` input pixels of a kept
    one is dropped (the same merging as :func:`skysieve.tasks.detect.survey.nms_sky`
    across windows, so the evaluation scores the decoder the catalog uses).
    At most ``max_detections`` per image are kept.

    Parameters
    ----------
    maps : ndarray of shape (n, ty, tx, 3)

    Returns
    -------
    Table
        ``image``, ``x_px``, ``y_px``, ``score``, ``width_px``, ``height_px``, highest score first within an image.
    """
    from scipy.ndimage import maximum_filter

    rows = []
    for k, m in enumerate(maps):
        heat = m[..., 0]
        peaks = (heat == maximum_filter(heat, size=window, mode="constant", cval=-1.0)) & (heat >= min_score)
        ys, xs = np.nonzero(peaks)
        order = np.argsort(-heat[ys, xs], kind="stable")
        kept: list[tuple[float, float]] = []
        for y, x in zip(ys[order], xs[order], strict=True):
            if len(kept) >= max_detections:
                break
            y0, y1, x0, x1 = max(0, y - 1), min(heat.shape[0], y + 2), max(0, x - 1), min(heat.shape[1], x + 2)
            w = heat[y0:y1, x0:x1]
            yy, xx = np.mgrid[y0:y1, x0:x1]
            cy, cx = float((w * yy).sum() / w.sum()), float((w * xx).sum() / w.sum())
            px, py = (cx + 0.5) * stride - 0.5, (cy + 0.5) * stride - 0.5
            if nms_px > 0 and any(np.hypot(px - a, py - b) < nms_px for a, b in kept):
                continue
            kept.append((px, py))
            rows.append((k, px, py, float(heat[y, x]), float(np.exp(m[y, x, 1]) * stride),
                         float(np.exp(m[y, x, 2]) * stride)))
    names = ("image", "x_px", "y_px", "score", "width_px", "height_px")
    if not rows:
        return Table(names=names, dtype=(np.int64, float, float, float, float, float))
    return Table(rows=rows, names=names)


@dataclass
class Matches:
    """One-to-one matches of detections to clusters.

    Attributes
    ----------
    det_cluster : ndarray of int
        Per detection, the index of the truth row it matched, or −1.
    det_offset_kpc : ndarray
        Per detection, the proper distance to the matched cluster (NaN if none).
    """

    det_cluster: np.ndarray
    det_offset_kpc: np.ndarray


def match_detections(det: Table, truth: Table, *, kpc_per_px: np.ndarray, match_kpc: float) -> Matches:
    """Match detections to clusters in the same image, highest score first, each cluster at most once.

    A detection matches the nearest unmatched cluster of its image whose
    centre lies within ``match_kpc`` proper kpc, measured at that cluster's
    redshift (``kpc_per_px`` per truth row: D_A(z) × pixel angle).

    Parameters
    ----------
    det : Table
        ``image``, ``x_px``, ``y_px``, ``score``.
    truth : Table
        ``image``, ``x_px``, ``y_px`` per cluster.
    kpc_per_px : ndarray of shape (len(truth),)
    match_kpc : float

    Returns
    -------
    Matches
    """
    n = len(det)
    det_cluster = np.full(n, -1, dtype=np.int64)
    offsets = np.full(n, np.nan)
    t_img, tx, ty = (np.asarray(truth[c]) for c in ("image", "x_px", "y_px"))
    taken = np.zeros(len(truth), dtype=bool)
    for i in np.argsort(-np.asarray(det["score"]), kind="stable"):
        cand = np.flatnonzero((t_img == det["image"][i]) & ~taken)
        if cand.size == 0:
            continue
        d_kpc = np.hypot(tx[cand] - det["x_px"][i], ty[cand] - det["y_px"][i]) * kpc_per_px[cand]
        j = int(np.argmin(d_kpc))
        if d_kpc[j] <= match_kpc:
            det_cluster[i], offsets[i] = cand[j], d_kpc[j]
            taken[cand[j]] = True
    return Matches(det_cluster, offsets)


def detection_counts(scores: np.ndarray, det_cluster: np.ndarray, n_clusters: int, threshold: float
                     ) -> dict[str, float]:
    """TP, FP, FN, precision, recall and F1 of the detections scoring ≥ ``threshold`` (Chan & Stott eqs 5–7).

    Matching is done once over all detections (:func:`match_detections`); a
    detection above the threshold is a TP if it matched a cluster, else an FP;
    clusters without a matched detection above the threshold are FNs.
    """
    keep = np.asarray(scores) >= threshold
    tp = int((det_cluster[keep] >= 0).sum())
    fp = int(keep.sum() - tp)
    fn = int(n_clusters - tp)
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / n_clusters if n_clusters else float("nan")
    f1 = 2 * p * r / (p + r) if tp else 0.0
    return {"threshold": float(threshold), "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}


def f1_curve(scores: np.ndarray, det_cluster: np.ndarray, n_clusters: float, thresholds: np.ndarray, *,
             det_weight: np.ndarray | None = None) -> np.ndarray:
    r"""F1 of the detections at each threshold, :math:`F_1 = 2\,TP / (2\,TP + FP + FN)`, with optional weights.

    The vectorised form of :func:`detection_counts`: a detection scoring
    ≥ :math:`t` counts as a TP if it matched a cluster, else as an FP;
    :math:`FN = n_{clusters} - TP`. ``det_weight`` (a field's multiplicity
    in a bootstrap resample, per detection) weights each detection and
    ``n_clusters`` is then the weighted cluster count. F1 is 0 where there
    is no TP.

    Returns
    -------
    ndarray of shape (len(thresholds),)
    """
    scores, matched = np.asarray(scores, float), np.asarray(det_cluster) >= 0
    w = np.ones(scores.size) if det_weight is None else np.asarray(det_weight, float)
    keep = scores[None, :] >= np.asarray(thresholds, float)[:, None]
    tp, kept = keep @ (w * matched), keep @ w
    denom = kept + n_clusters  # 2TP + FP + FN = (TP + FP) + (TP + FN)
    return np.where(tp > 0, 2 * tp / np.where(denom > 0, denom, 1.0), 0.0)


def resampled_thresholds(scores: np.ndarray, det_cluster: np.ndarray, det_field: np.ndarray,
                         cluster_field: np.ndarray, fields: np.ndarray, thresholds: np.ndarray, *, n_boot: int,
                         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The F1-best threshold of ``n_boot`` resamples of the fields, and each resample's F1 curve.

    How stable the operating point chosen on a set of fields is: each
    resample draws ``fields.size`` fields with replacement (a field's
    detections and clusters together) and picks the threshold of
    ``thresholds`` with the highest F1 (:func:`f1_curve`).

    Returns
    -------
    chosen : ndarray of shape (n_boot,)
    curves : ndarray of shape (n_boot, len(thresholds))
    """
    pos = {int(f): k for k, f in enumerate(np.asarray(fields))}
    dpos = np.array([pos[int(f)] for f in det_field], dtype=np.int64)
    cpos = np.array([pos[int(f)] for f in cluster_field], dtype=np.int64)
    rng = np.random.default_rng(seed)
    curves = np.empty((n_boot, len(thresholds)))
    for b in range(n_boot):
        mult = np.bincount(rng.integers(0, len(pos), len(pos)), minlength=len(pos)).astype(float)
        curves[b] = f1_curve(scores, det_cluster, float(mult[cpos].sum()), thresholds, det_weight=mult[dpos])
    return np.asarray(thresholds, float)[np.argmax(curves, axis=1)], curves


def bootstrap_fields(stat, images: np.ndarray, *, n_boot: int, seed: int) -> tuple[float, float]:
    """95 % percentile interval of ``stat(chosen_images)`` over fields resampled with replacement.

    ``stat`` takes an array of image indices (with repeats) and returns a
    float (NaN ignored).  Resampling whole fields keeps a field's clusters
    and false detections together.
    """
    rng = np.random.default_rng(seed)
    values = np.array([stat(rng.choice(images, size=images.size, replace=True)) for _ in range(n_boot)])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def ks_bias(recovered: np.ndarray, full: np.ndarray, *, alpha: float = 0.05) -> dict[str, float]:
    r"""Two-sample Kolmogorov–Smirnov test of recovered against other values (Chan & Stott §3.3).

    Returns the statistic :math:`D`, its p-value (:func:`scipy.stats.ks_2samp`)
    and the critical value :math:`D_\alpha = c(\alpha)\sqrt{(n + m)/(n m)}`,
    :math:`c(\alpha) = \sqrt{-\ln(\alpha/2)/2}` (1.358 at α = 0.05).

    The paper compares the recovered clusters with the whole input set, which
    contains them.  Then the input's distribution function is the mixture
    :math:`F_{all} = (n_r F_r + n_m F_m)/(n_r + n_m)` of the recovered and
    the missed, so :math:`F_r - F_{all} = \frac{n_m}{n_r + n_m}(F_r - F_m)` at
    every value and :math:`D_{r,all} = \frac{n_m}{n_r + n_m} D_{r,m}`: the
    test is diluted by the missed fraction, and its critical value (which
    assumes independent samples) is rarely reached.  Recovered against
    *missed* (``full`` = the missed values) is the independent-samples test.
    """
    from scipy.stats import ks_2samp

    recovered, full = np.asarray(recovered, float), np.asarray(full, float)
    if recovered.size == 0 or full.size == 0:
        return {"d": float("nan"), "p_value": float("nan"), "d_critical": float("nan"), "n": int(recovered.size),
                "m": int(full.size)}
    res = ks_2samp(recovered, full)
    n, m = recovered.size, full.size
    crit = np.sqrt(-np.log(alpha / 2) / 2) * np.sqrt((n + m) / (n * m))
    return {"d": float(res.statistic), "p_value": float(res.pvalue), "d_critical": float(crit), "n": int(n),
            "m": int(m)}


def coco_map(det: Table, truth: Table, *, images: np.ndarray) -> dict[str, float]:
    """COCO box mAP (pycocotools): AP@[.5:.95] and AP@.5 of the detections against the truth boxes.

    Truth rows need ``image``, ``box_x0``, ``box_y0``, ``box_x1``, ``box_y1``;
    detections ``image``, ``x_px``, ``y_px``, ``width_px``, ``height_px``, ``score``.
    Pixel coordinates are shifted by +0.5 to COCO's corner convention.
    """
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    anns = []
    for k, t in enumerate(truth):
        w, h = float(t["box_x1"] - t["box_x0"]), float(t["box_y1"] - t["box_y0"])
        anns.append({"id": k + 1, "image_id": int(t["image"]), "category_id": 1, "iscrowd": 0, "area": w * h,
                     "bbox": [float(t["box_x0"]) + 0.5, float(t["box_y0"]) + 0.5, w, h]})
    if not anns:
        return {"map": float("nan"), "map50": float("nan")}
    gt = COCO()
    gt.dataset = {"images": [{"id": int(i)} for i in images], "annotations": anns,
                  "categories": [{"id": 1, "name": "cluster"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dets = [{"image_id": int(d["image"]), "category_id": 1, "score": float(d["score"]),
                 "bbox": [float(d["x_px"] - d["width_px"] / 2 + 0.5), float(d["y_px"] - d["height_px"] / 2 + 0.5),
                          float(d["width_px"]), float(d["height_px"])]} for d in det]
        if not dets:
            return {"map": 0.0, "map50": 0.0}
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.params.imgIds = [int(i) for i in images]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map": float(ev.stats[0]), "map50": float(ev.stats[1])}
