"""The evaluation plots: ROC, purity–completeness, F1 against threshold, confusion matrices, binned curves, folds.

matplotlib's object API on the Agg canvas (no pyplot, no global backend
switch), so they render headless and in parallel.  :func:`save_figure` and
:func:`new_figure` serve the searches' own plots too.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skysieve.metrics import BinnedStatistic, ConfusionCounts, summarize_folds

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BINNED_LABELS", "interval_bars", "new_figure", "plot_binned", "plot_confusion_matrices", "plot_f1_threshold", "plot_fold_box", "plot_pr",
           "plot_roc", "save_figure"]

#: The binned curves of an evaluation: kind → (x label, y label, x scale).
BINNED_LABELS = {
    "completeness_vs_mass": ("halo mass [M$_\\odot$]", "completeness", "log"),
    "completeness_vs_redshift": ("redshift", "completeness", "linear"),
    "score_vs_offset": ("offset from cutout centre [arcmin]", "mean score of positives", "linear"),
}


def interval_bars(value: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Asymmetric error bars, shape (2, n), for :meth:`matplotlib.axes.Axes.errorbar` from an interval."""
    value, lo, hi = (np.asarray(a, dtype=np.float64) for a in (value, lo, hi))
    return np.nan_to_num(np.vstack([value - lo, hi - value]), nan=0.0).clip(min=0.0)

def new_figure(ncols: int = 1, *, width: float = 5.0, height: float = 4.0) -> tuple["Figure", np.ndarray]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def save_figure(fig: "Figure", path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def plot_roc(curves: Mapping[str, Any], path: str | Path, *, labels: Mapping[str, str] | None = None) -> Path:
    """ROC curves of several methods on one axis.

    Parameters
    ----------
    curves : mapping of str to Curves
        Per method (``EvaluationResult.test_curves``).
    path : str or Path
        The PNG to write.
    labels : mapping of str to str, keyword-only, optional
        Legend text per method (e.g. the AUC with its 95 % interval); default
        ``<method> (AUC x.xxx)`` from the curve.
    """
    labels = labels or {}
    fig, (ax,) = new_figure()
    for name, c in curves.items():
        auc = float(np.trapezoid(c.tpr, c.fpr))
        ax.plot(c.fpr, c.tpr, label=labels.get(name, f"{name} (AUC {auc:.3f})"))
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate (completeness)", title="ROC")
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def plot_pr(curves: Mapping[str, Any], path: str | Path, *, labels: Mapping[str, str] | None = None) -> Path:
    """Purity against completeness (precision–recall) of several methods; ``labels`` as in :func:`plot_roc`."""
    labels = labels or {}
    fig, (ax,) = new_figure()
    for name, c in curves.items():
        ax.plot(c.completeness, c.purity, label=labels.get(name, name), drawstyle="steps-post")
    ax.set(xlabel="completeness (recall)", ylabel="purity (precision)", title="purity–completeness",
           xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
    ax.legend(loc="lower left")
    return save_figure(fig, path)


def plot_f1_threshold(
    curves: Mapping[str, Any], path: str | Path, *, thresholds: Mapping[str, float] | None = None
) -> Path:
    """F1 against threshold, one panel per method (DeepSZ figure 5), chosen threshold marked.

    Parameters
    ----------
    curves : mapping of str to Curves
        Validation curves per method.
    path : str or Path
    thresholds : mapping of str to float, keyword-only, optional
        The chosen threshold per method, drawn as a vertical line.
    """
    thresholds = thresholds or {}
    fig, axes = new_figure(max(len(curves), 1), width=4.2)
    for ax, (name, c) in zip(axes, curves.items(), strict=False):
        ax.plot(c.thresholds, c.f1, color="k")
        if name in thresholds:
            t = thresholds[name]
            ax.axvline(t, color="C3", ls="--", lw=1, label=f"t = {t:.4g}")
            ax.legend(loc="best")
        ax.set(xlabel=f"{name} threshold", ylabel="F1 (validation)", title=name, ylim=(0, 1))
    return save_figure(fig, path)


def plot_confusion_matrices(counts: Mapping[str, ConfusionCounts], path: str | Path, *,
                            titles: Mapping[str, str] | None = None) -> Path:
    """One 2×2 confusion matrix per method, counts written in the cells; ``titles`` per method (default the F1)."""
    titles = titles or {}
    fig, axes = new_figure(max(len(counts), 1), width=3.4, height=3.2)
    for ax, (name, c) in zip(axes, counts.items(), strict=False):
        m = np.array([[c.tn, c.fp], [c.fn, c.tp]], dtype=float)
        ax.imshow(np.log10(m + 1), cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{int(v)}", ha="center", va="center", color="k")
        ax.set_xticks([0, 1], ["no cluster", "cluster"])
        ax.set_yticks([0, 1], ["no cluster", "cluster"])
        ax.set(xlabel="decision", ylabel="truth", title=titles.get(name, f"{name}  F1 {c.f1:.2f}"))
    return save_figure(fig, path)


def plot_binned(
    binned: Mapping[str, BinnedStatistic],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    xscale: str = "linear",
    panels: bool = False,
) -> Path:
    """A binned statistic per method with its 95 % interval as error bars, over the counts behind it.

    Parameters
    ----------
    binned : mapping of str to BinnedStatistic
        Per method (DeepSZ figures 9c, 10, 11).
    path : str or Path
    xlabel, ylabel : str, keyword-only
    xscale : {"linear", "log"}, keyword-only
    panels : bool, keyword-only
        One panel per method (for scores on different scales) instead of one
        shared axis; a shared axis of completeness runs from 0 to 1.
    """
    groups = [{n: b} for n, b in binned.items()] if panels else [dict(binned)] if binned else []
    fig, axes = new_figure(max(len(groups), 1), width=5.5)
    for ax, group in zip(axes, groups, strict=False):
        first = next(iter(group.values()))
        centers = np.sqrt(first.edges[1:] * first.edges[:-1]) if xscale == "log" else first.centers
        twin = ax.twinx()
        twin.stairs(first.count, first.edges, fill=True, color="C0", alpha=0.15)
        twin.set_ylabel("objects per bin")
        for i, (name, b) in enumerate(group.items()):
            ax.errorbar(centers, b.value, yerr=interval_bars(b.value, b.lo, b.hi), marker="o", ms=3, capsize=2,
                        label=name, color=f"C{i + 1}")
        ax.set_zorder(twin.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.legend(loc="best")
        ax.set(xlabel=xlabel, ylabel=ylabel, xscale=xscale)
        if not panels:
            ax.set_ylim(0, 1.05)
    return save_figure(fig, path)


def plot_fold_box(fold_metrics: Sequence[Mapping[str, float]], path: str | Path) -> Path:
    """Box plots of each metric across k folds, mean ± std in the labels."""
    summary = summarize_folds(fold_metrics)
    fig, (ax,) = new_figure(width=max(4.0, 1.2 * len(summary)))
    names = list(summary)
    ax.boxplot([summary[k].values for k in names], showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), [f"{k}\n{summary[k].mean:.3f}±{summary[k].std:.3f}" for k in names])
    ax.set(ylabel="value across folds", title=f"k = {len(fold_metrics)} folds")
    return save_figure(fig, path)


