"""Plots and the Markdown table of the morphology search (the paper's Figs. 4, 5, 9–11 and a reliability diagram)."""

from pathlib import Path

import numpy as np

from skysieve.tasks.morphology.params import CLASSES

__all__ = ["plot_evaluation", "plot_experiments", "summary_markdown"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_experiments(curve: list[dict], depth: list[dict], fit: dict, out: Path) -> list[Path]:
    """``learning_curve.png`` (RMSE vs size, mean ± std of repeats, power law) and ``frozen_depth.png``."""
    plt = _plt()
    files = []
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for mode, colour in (("scratch", "tab:red"), ("finetuned", "tab:blue")):
        rows = [r for r in curve if r["mode"] == mode]
        sizes = sorted({r["size"] for r in rows})
        vals = [np.array([r["rmse"] for r in rows if r["size"] == s]) for s in sizes]
        ax.errorbar(sizes, [v.mean() for v in vals], yerr=[v.std(ddof=1) if len(v) > 1 else 0 for v in vals],
                    marker="o", capsize=3, color=colour, label=mode.replace("finetuned", "fine-tuned"))
        if mode == "finetuned" and np.isfinite(fit.get("a", np.nan)):
            grid = np.geomspace(min(sizes), 4 * max(sizes), 50)
            ax.plot(grid, fit["a"] * grid ** (-fit["b"]) + fit["c"], ":", color=colour,
                    label=f"power law, b={fit['b']:.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("labelled target images in training")
    ax.set_ylabel("test RMSE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "learning_curve.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    depths = sorted({r["frozen_depth"] for r in depth})
    vals = [np.array([r["rmse"] for r in depth if r["frozen_depth"] == d]) for d in depths]
    ax.errorbar(depths, [v.mean() for v in vals], yerr=[v.std(ddof=1) if len(v) > 1 else 0 for v in vals],
                marker="o", capsize=3)
    ax.set_xlabel("convolutional blocks frozen (0: none, 8: all)")
    ax.set_ylabel("test RMSE")
    fig.tight_layout()
    files.append(out / "frozen_depth.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    return files


def plot_evaluation(ev: dict, out: Path) -> list[Path]:
    """``recall.png`` (Figs. 9–10), ``thresholds.png`` (Fig. 11), ``reliability.png``."""
    plt = _plt()
    files = []
    fig, ax = plt.subplots(figsize=(5, 3.4))
    x = np.arange(len(CLASSES))
    for off, key, label in ((-0.2, "recall_map", "most-voted class"),
                            (0.2, "recall_confident", f"votes ≥ confident ({ev['n_confident']} images)")):
        ax.bar(x + off, [v if v is not None else 0 for v in ev[key]], width=0.4, label=label)
    ax.set_xticks(x, [c.replace("_", " ") for c in CLASSES], fontsize=8)
    ax.set_ylabel("recall of the MAP class")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    files.append(out / "recall.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    th = ev["thresholds"]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for key in ("retained", "accuracy", "macro_f1"):
        y = np.where(np.asarray(th[key]) < 0, np.nan, th[key])
        ax.plot(th["threshold"], y, marker="o", label=key.replace("_", " "))
    ax.set_xlabel("probability threshold on the top class")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "thresholds.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    rel = ev["reliability"]
    fig, ax = plt.subplots(figsize=(4, 4))
    ok = np.asarray(rel["count"]) > 0
    ax.plot([0, 1], [0, 1], "k:")
    ax.plot(np.asarray(rel["confidence"])[ok], np.asarray(rel["accuracy"])[ok], marker="o")
    ax.set_xlabel("mean top-class probability")
    ax.set_ylabel("fraction whose most-voted class agrees")
    ax.set_title(f"ECE {ev['ece']:.3f} [{ev['ece_lo']:.3f}, {ev['ece_hi']:.3f}]", fontsize=9)
    fig.tight_layout()
    files.append(out / "reliability.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    return files


def summary_markdown(ev: dict, floor: dict) -> str:
    """The headline table: test RMSE beside the paper's, the label noise floors, calibration, MAP F1."""
    def fmt(key):
        return f"{ev[key]:.4f} [{ev[key + '_lo']:.4f}, {ev[key + '_hi']:.4f}]"

    lines = [f"| figure (test, n = {ev['n']}) | measured [95 % bootstrap] | paper |", "|---|---|---|",
             f"| RMSE over probability vectors | {fmt('rmse')} | {ev['paper_rmse']} |"]
    if "ideal_rmse" in ev:
        lines.append(f"| RMSE of the annotators' expected votes (ideal model) | {fmt('ideal_rmse')} | — |")
    lines += [f"| one annotator vs the others' consensus (label noise) | {floor['one_vs_rest']:.4f} | — |",
              f"| MAP-class accuracy | {fmt('map_accuracy')} | — |",
              f"| MAP-class macro F1 | {fmt('macro_f1')} | ≈0.91 at threshold 0.6 |",
              f"| expected calibration error | {fmt('ece')} | — |"]
    return "\n".join(lines) + "\n"
