"""Where the CNN and the matched filter disagree (DeepSZ §3.3), and the truth-assisted MF row beside the default.

DeepSZ §3.3 looks at the clusters found by one method and missed by the
other: the CNN recovers low-mass, compact clusters the MF misses, the MF the
extended ones.  :func:`disagreement_report` counts, on the test split, every
object by the pair of decisions (MF, CNN) at the validation thresholds —
``both``, ``mf_only``, ``cnn_only``, ``neither`` — separately for positives
(found / missed clusters) and negatives (false positives), per bin of each
truth column (mass, redshift), with the Wilson 95 % interval of each category's
fraction of its bin (:func:`~skysieve.metrics.wilson_interval`).
:func:`disagreement_gallery` draws the cutouts of the ``mf_only`` and
``cnn_only`` objects, one panel per channel.

:func:`truth_assisted_row` refits the MF threshold on the truth-assisted
score column (``mf_snr_truth``: a detection matched to a halo counts for the
cutout holding the halo's true centre) so the table can show it beside the
default position-only MF row.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skysieve.ensemble._methods import LABEL_COLUMN, ThresholdClassifier
from skysieve.ensemble._table import comparison_table
from skysieve.errors import DataError
from skysieve.metrics import wilson_interval

__all__ = ["CATEGORIES", "TRUTH_MF_COLUMN", "disagreement_categories", "disagreement_gallery",
           "disagreement_markdown", "disagreement_report", "truth_assisted_row", "write_disagreement"]

#: The four (MF, CNN) decision pairs, in report order.
CATEGORIES = ("both", "mf_only", "cnn_only", "neither")
#: The score column of the truth-assisted MF assignment.
TRUTH_MF_COLUMN = "mf_snr_truth"


def disagreement_categories(mf: np.ndarray, cnn: np.ndarray) -> np.ndarray:
    """The :data:`CATEGORIES` name of each object from its boolean MF and CNN decisions."""
    mf, cnn = np.asarray(mf, bool), np.asarray(cnn, bool)
    if mf.shape != cnn.shape:
        raise DataError(f"MF and CNN decisions differ in length ({mf.size} and {cnn.size})")
    out = np.full(mf.shape, "neither", dtype=object)
    out[mf & cnn], out[mf & ~cnn], out[~mf & cnn] = "both", "mf_only", "cnn_only"
    return out.astype(str)


def _counts(cat: np.ndarray) -> dict[str, Any]:
    n = int(cat.size)
    row: dict[str, Any] = {"n": n}
    for c in CATEGORIES:
        k = int(np.count_nonzero(cat == c))
        lo, hi = wilson_interval(k, n) if n else (np.nan, np.nan)
        row[c] = {"count": k, "fraction": k / n if n else float("nan"), "lo": float(lo), "hi": float(hi)}
    return row


def disagreement_report(labels: np.ndarray, mf: np.ndarray, cnn: np.ndarray, *,
                        truth: Mapping[str, np.ndarray] | None = None,
                        bins: Mapping[str, Sequence[float]] | None = None) -> dict[str, Any]:
    """Counts of both / MF only / CNN only / neither, for positives and negatives, overall and per truth bin.

    Parameters
    ----------
    labels : array of 0/1, shape (n,)
    mf, cnn : array of bool, shape (n,)
        Decisions at the validation thresholds.
    truth : mapping of str to array of shape (n,), optional
        Truth columns of the positives (mass, redshift); NaN or masked where none.
    bins : mapping of str to sequence of float, optional
        Bin edges per truth column; columns without edges are skipped.

    Returns
    -------
    dict
        ``{"positives": {...}, "negatives": {...}, "bins": {column: [{"lo", "hi", ...counts}]}}``,
        each counts entry ``{"n", category: {"count", "fraction", "lo", "hi"}}``
        (fraction of its row, Wilson 95 %).
    """
    y = np.asarray(labels).astype(bool)
    cat = disagreement_categories(mf, cnn)
    if cat.size != y.size:
        raise DataError(f"{y.size} labels but {cat.size} decisions")
    report: dict[str, Any] = {"positives": _counts(cat[y]), "negatives": _counts(cat[~y]), "bins": {}}
    for column, edges in (bins or {}).items():
        if truth is None or column not in truth:
            continue
        values = np.ma.filled(np.ma.asarray(truth[column], dtype=float), np.nan)
        edges = np.asarray(edges, float)
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = y & (values >= lo) & (values < hi)
            if sel.any():
                rows.append({"lo": float(lo), "hi": float(hi), **_counts(cat[sel])})
        report["bins"][column] = rows
    return report


def _cell(entry: Mapping[str, Any]) -> str:
    if not entry["count"] and not np.isfinite(entry["lo"]):
        return "0"
    return f"{entry['count']} ({entry['lo']:.2f}–{entry['hi']:.2f})"


def disagreement_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: an overall table, then one table per truth column (positives only)."""
    head = "| | n | both | MF only | CNN only | neither |\n|:--|--:|--:|--:|--:|--:|\n"
    lines = ["## Where the CNN and the MF disagree (test split, validation thresholds)\n",
             "Counts, with the Wilson 95 % interval of each category's fraction of its row in brackets.\n",
             head.rstrip("\n")]
    for name, key in (("clusters (positives)", "positives"), ("non-clusters (negatives: false positives)",
                                                             "negatives")):
        r = report[key]
        lines.append(f"| {name} | {r['n']} | " + " | ".join(_cell(r[c]) for c in CATEGORIES) + " |")
    for column, rows in report["bins"].items():
        lines += ["", f"Positives by `{column}`:", "", head.replace("| |", f"| {column} bin |").rstrip("\n")]
        for r in rows:
            lines.append(f"| [{r['lo']:.3g}, {r['hi']:.3g}) | {r['n']} | "
                         + " | ".join(_cell(r[c]) for c in CATEGORIES) + " |")
    return "\n".join(lines) + "\n"


def disagreement_gallery(images: np.ndarray, channels: Sequence[str], titles: Sequence[str], path: str | Path, *,
                         suptitle: str = "") -> Path:
    """A PNG grid of cutouts, one row per object and one panel per channel (each panel's spatial mean removed,
    a symmetric colour scale at its 99th percentile of |x|).

    Parameters
    ----------
    images : ndarray of shape (k, ny, nx, nchan)
    channels : sequence of str
        Channel names (panel titles).
    titles : sequence of str
        One label per object (row label).
    path : path
        The PNG written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = np.asarray(images, float)
    k = images.shape[0]
    nchan = images.shape[-1]
    if k == 0:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no objects in this category", ha="center", va="center")
    else:
        fig, axes = plt.subplots(k, nchan, figsize=(1.6 * nchan, 1.6 * k), squeeze=False)
        for i in range(k):
            for c in range(nchan):
                x = images[i, ..., c] - images[i, ..., c].mean()
                v = float(np.percentile(np.abs(x), 99)) or 1.0
                ax = axes[i, c]
                ax.imshow(x, origin="lower", cmap="RdBu_r", vmin=-v, vmax=v)
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(str(channels[c]) if c < len(channels) else f"channel {c}", fontsize=8)
            axes[i, 0].set_ylabel(titles[i], fontsize=6)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / max(1.6 * k, 1.0)) if suptitle else None)
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def truth_assisted_row(val: Any, test: Any, *, n_boot: int = 0, seed: int = 0) -> dict[str, Any] | None:
    """The MF's Table 1 row with the truth-assisted assignment (threshold refitted on validation), or ``None``
    when the scores hold no :data:`TRUTH_MF_COLUMN`.

    The row's ``method`` is ``"mf_truth_assisted"``; ``decisions`` holds the test decisions.
    """
    names = getattr(val, "colnames", None) or list(getattr(val, "keys", list)())
    if TRUTH_MF_COLUMN not in names:
        return None
    clf = ThresholdClassifier(TRUTH_MF_COLUMN).fit(val)
    decisions = clf.decide(test)
    row = comparison_table(np.asarray(test[LABEL_COLUMN]), {"mf_truth_assisted": decisions}, n_boot=n_boot,
                           seed=seed)[0]
    row["threshold"] = float(clf.threshold_)
    return {"row": row, "decisions": decisions}


def write_disagreement(out: str | Path, report: Mapping[str, Any], test: Any, mf: np.ndarray, cnn: np.ndarray, *,
                       dataset: Any = None, truth_columns: Sequence[str] = (), max_rows: int = 12,
                       reference_differences: bool = False) -> list[Path]:
    """Write ``disagreement.md``, ``disagreement.json`` and, with ``dataset``, one PNG gallery per category
    ``{positives,negatives}_{mf_only,cnn_only}`` into ``out``; returns the paths written.

    ``test`` holds ``id``, ``label``, ``mf_snr``, ``cnn_prob`` and the ``truth_columns``; ``dataset`` is the
    :class:`~skysieve.data.dataset.CutoutDataset` the ids index.  Each gallery shows up to ``max_rows``
    objects: positives by decreasing first truth column (mass), negatives by decreasing score of the method
    that fired.  With ``reference_differences`` each band minus the last band is drawn too (in µK_CMB
    those differences hold no CMB).
    """
    import json

    out = Path(out)
    paths = [out / "disagreement.md", out / "disagreement.json"]
    paths[0].write_text(disagreement_markdown(report))
    paths[1].write_text(json.dumps(report, indent=1) + "\n")
    if dataset is None:
        return paths
    cat = disagreement_categories(mf, cnn)
    y = np.asarray(test[LABEL_COLUMN]).astype(bool)
    ids = np.asarray(test["id"], np.int64)
    row_of = {int(i): r for r, i in enumerate(np.asarray(dataset.catalog["id"], np.int64))}
    for kind, sel_y in (("positives", y), ("negatives", ~y)):
        for c in ("mf_only", "cnn_only"):
            pick = np.flatnonzero(sel_y & (cat == c))
            if kind == "positives" and truth_columns:
                key = np.ma.filled(np.ma.asarray(test[truth_columns[0]], dtype=float), np.nan)[pick]
            else:
                key = np.asarray(test["mf_snr" if c == "mf_only" else "cnn_prob"], float)[pick]
            pick = pick[np.argsort(-np.nan_to_num(key, nan=-np.inf), kind="stable")][:max_rows]
            rows = np.array([row_of[int(i)] for i in ids[pick]], dtype=np.int64)
            images = dataset.read(rows) if rows.size else np.empty((0, *dataset.shape[1:]))
            channels = list(dataset.channels)
            if reference_differences and images.shape[-1] > 1:
                images = np.concatenate([images, images[..., :-1] - images[..., -1:]], axis=-1)
                channels += [f"{c} − {channels[-1]}" for c in channels[:-1]]
            titles = []
            for r in pick:
                t = [f"id {int(ids[r])}", f"MF {float(test['mf_snr'][r]):.1f}", f"CNN {float(test['cnn_prob'][r]):.2f}"]
                if kind == "positives":
                    for col in truth_columns:
                        v = np.ma.filled(np.ma.asarray(test[col][r], dtype=float), np.nan)
                        t.append(f"{col} {float(v):.3g}")
                titles.append("\n".join(t))
            paths.append(disagreement_gallery(
                images, channels, titles, out / f"disagree_{kind}_{c}.png",
                suptitle=f"{kind}: {'MF' if c == 'mf_only' else 'CNN'} only ({int(np.count_nonzero(sel_y & (cat == c)))}"
                         f" objects, {len(pick)} shown)"))
    return paths
