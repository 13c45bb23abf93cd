"""The lens reporting edge: Angora et al. (2023) tables as Markdown and CSV, their figures as PNG.

Nothing here computes a metric; it lays out what
:func:`~skysieve.evaluate.evaluate_lens` returns.  The shared layout of
:func:`~skysieve.evaluate.write_evaluation_report` (``metrics.json``, ROC,
purity–completeness, F1-threshold, confusion matrix, fold box plots) is
written first; this module adds, under ``out_dir``::

    table.md                               # Tables A.1, A.2, A.4, A.5 (test and cv)
    tables/a1_class_metrics.csv            # Table A.1: both classes, each threshold, with/without adversarial
    tables/a2_fold_spread.csv              # Table A.2: mean, std, median, quartiles, IQR, whiskers over folds
    tables/a4_false_positives_<sample>.csv # Table A.4: FP rows by lens magnitude and colour cuts
    tables/a5_false_negatives_<sample>.csv # Table A.5: FN rows by source magnitude, θ_E, source z cuts
    tables/fp_by_kind_<sample>.csv         # FP rate of each kind of non-lens and of the red ones (member + twin)
    plots/breakdown/<sample>/<variable>.csv  # the binned rates (Figs. 8, 9)
    plots/purity_completeness/<split>.csv  # purity and completeness against threshold (Fig. 11)
    false_negatives_<sample>.png, false_positives_<sample>.png, purity_completeness.png
"""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skysieve.evaluate import ErrorRates
from skysieve.evaluate._plots import interval_bars, save_figure
from skysieve.evaluate.report import ReportFiles, write_csv, write_evaluation_report, write_metrics_json
from skysieve.tasks.lens.evaluate import BREAKDOWN_VARIABLES, RED_GROUP, RED_KINDS, LensEvaluation

__all__ = [
    "class_metrics_table",
    "error_table",
    "fold_spread_table",
    "lens_tables_markdown",
    "plot_error_rates",
    "plot_purity_completeness",
    "write_lens_report",
]

Table = tuple[list[str], list[list[Any]]]

_CLASS_ROWS = (("accuracy", "AE (accuracy)"), ("lens_purity", "lens purity"),
               ("lens_completeness", "lens completeness"), ("lens_f1", "lens F1"),
               ("non_lens_purity", "non-lens purity"), ("non_lens_completeness", "non-lens completeness"),
               ("non_lens_f1", "non-lens F1"))  # fmt: skip
_NAMES = {"source_mag": "source F814W", "theta_e": "θ_E", "source_z": "z_src", "arc_snr": "arc SNR", "lens_mag": "lens F814W",
          "lens_colour": "colour"}  # fmt: skip


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * float(value):.1f}"


def _num(value: Any, fmt: str = ".3f") -> str:
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(float(value))):
        return "–"
    return format(float(value), fmt)


def _rate(rate: float, lo: float, hi: float) -> str:
    """A rate with its Wilson 95 % interval: ``0.120 (0.081–0.172)``."""
    return "–" if not math.isfinite(float(rate)) else f"{_num(rate)} ({_num(lo)}–{_num(hi)})"


def _pct_iv(value: Any, interval: Any) -> str:
    """A percentage with its 95 % interval: ``79.3 (74.3–83.6)``; alone without one."""
    text = _pct(value)
    if interval is None or text == "–" or not math.isfinite(interval.lo):
        return text
    return f"{text} ({_pct(interval.lo)}–{_pct(interval.hi)})"


def _markdown(title: str, table: Table, note: str = "") -> str:
    header, rows = table
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines + ([""] + [note] if note else []) + [""])


def class_metrics_table(evaluation: LensEvaluation) -> Table:
    """Table A.1: both classes' purity, completeness, F1, accuracy and ROC-AUC, in percent.

    One column per sample and threshold (``test@fixed`` …, ``cv``), each followed
    by its starred twin without the adversarial lenses; each figure with its
    95 % bootstrap interval in brackets, and the counts in the last row.
    """
    columns = [(f"test@{k} (t={m.threshold:.3g})", m) for k, m in evaluation.test.items()]
    if evaluation.cv is not None:
        columns.append((f"cv (fold models, t={evaluation.cv.threshold:.3g})", evaluation.cv))
    header = ["[%]"]
    for name, _ in columns:
        header += [name, f"{name}*"]
    rows = []
    for key, label in _CLASS_ROWS:
        row: list[Any] = [label]
        for _, m in columns:
            row += [_pct_iv(m.all.as_dict()[key], m.intervals.get(key)),
                    _pct_iv(m.clean.as_dict()[key], m.clean_intervals.get(key))]
        rows.append(row)
    auc = ["ROC-AUC"]
    for _, m in columns:
        auc += [_pct_iv(m.roc_auc, m.intervals.get("roc_auc")),
                _pct_iv(m.clean_roc_auc, m.clean_intervals.get("roc_auc"))]
    rows.append(auc)
    n = ["cutouts (lenses)"]
    for _, m in columns:
        for c in (m.all.counts, m.clean.counts):
            n.append(f"{c.n} ({c.tp + c.fn})")
    rows.append(n)
    return header, rows


def fold_spread_table(evaluation: LensEvaluation) -> Table:
    """Table A.2: each per-fold metric's mean ± std, median, quartiles, IQR and whiskers, in percent."""
    header = ["[%]", "mean", "std", "median", "Q1", "Q3", "IQR", "Q1 − 1.5 IQR", "Q3 + 1.5 IQR"]
    rows = []
    quartiles = evaluation.fold_quartiles()
    labels = dict(_CLASS_ROWS) | {"roc_auc": "ROC-AUC"}
    for key, q in quartiles.items():
        values = np.array([f[key] for f in evaluation.folds], dtype=np.float64)
        std = values.std(ddof=1) if values.size > 1 else 0.0
        rows.append([labels.get(key, key), _pct(values.mean()), _pct(std), _pct(q["median"]), _pct(q["q1"]),
                     _pct(q["q3"]), _pct(q["iqr"]), _pct(q["lower"]), _pct(q["upper"])])
    return header, rows


def _bound(lo: float, hi: float, name: str) -> str:
    if np.isinf(lo) and np.isinf(hi):
        return "all"
    if np.isinf(lo):
        return f"{name} < {hi:g}"
    if np.isinf(hi):
        return f"{name} ≥ {lo:g}"
    return f"{lo:g} ≤ {name} < {hi:g}"


def error_table(cuts: Mapping[str, ErrorRates]) -> Table:
    """Tables A.4 / A.5: per cut row, the class's count and share, the errors, errors/correct and the rate.

    Parameters
    ----------
    cuts : mapping of str to ErrorRates
        Per variable (``source_mag``, ``theta_e``…), all of the same kind.
    """
    first = next(iter(cuts.values()))
    fn = first.kind == "false_negative"
    cls, err, ok = ("lenses", "FN", "TP") if fn else ("non-lenses", "FP", "TN")
    rate = "FNR = FN/(TP+FN)" if fn else "FPR = FP/(TN+FP)"
    header = ["selection", cls, f"% of {cls}", err, f"% of {err}", f"{err}/{ok}", rate]
    correct = first.n_total - first.errors_total
    total_rate = first.total_rate
    rows: list[list[Any]] = [["total", first.n_total, _pct(1.0 if first.n_total else None), first.errors_total,
                              _pct(1.0 if first.errors_total else None),
                              _num(first.errors_total / correct if correct else float("nan")),
                              _rate(total_rate, *first.total_interval)]]
    for name, r in cuts.items():
        for i in range(r.n.size):
            rows.append([_bound(r.lo[i], r.hi[i], _NAMES.get(name, name)), int(r.n[i]), _pct(r.share[i]),
                         int(r.errors[i]), _pct(r.error_share[i]), _num(r.ratio[i]),
                         _rate(r.rate[i], r.rate_lo[i], r.rate_hi[i])])
    return header, rows


def kind_table(by_kind: Mapping[str, Mapping[str, Any]]) -> Table:
    """One row per kind of non-lens: how many, how many called lenses, and the rate with its interval."""
    label = {RED_GROUP: f"{RED_GROUP} ({' + '.join(RED_KINDS)})"}
    rows = [[label.get(k, k), v["n"], v["fp"], _rate(v["rate"], v["lo"], v["hi"])] for k, v in by_kind.items()]
    return ["non-lens kind", "N", "FP", "FPR (95 %)"], rows


def _table_columns(table: Table) -> dict[str, list[Any]]:
    header, rows = table
    return {h: [row[i] for row in rows] for i, h in enumerate(header)}


def lens_tables_markdown(evaluation: LensEvaluation) -> str:
    """The paper's Tables A.1, A.2, A.4 and A.5 for this evaluation, as one Markdown document."""
    t = evaluation.thresholds
    parts = [
        "## Lens finder: Angora et al. (2023) appendix A tables",
        "",
        f"Operating point: **{evaluation.operating_point}** (threshold {evaluation.threshold:.4g}). Thresholds on "
        f"the calibrated probability: fixed {t['fixed']:.4g}, purity = completeness on validation "
        f"{t['crossing']:.4g}, F1-max on validation {t['f1']:.4g}, lens = non-lens completeness on validation "
        f"(purity = completeness at equal priors) {t['balanced']:.4g}.",
        "",
        _markdown("Table A.1 — both classes, in percent", class_metrics_table(evaluation),
                  "\\* without the adversarial lenses (faint sources / small θ_E; evaluate_lens.adversarial). "
                  "In brackets: 95 % bootstrap intervals over the column's cutouts (threshold held fixed; "
                  "evaluate_lens.bootstrap_resamples); rates in Tables A.4/A.5: Wilson 95 % intervals."),
    ]
    if evaluation.folds:
        parts.append(_markdown(f"Table A.2 — spread over the {len(evaluation.folds)} folds (out-of-fold cutouts, "
                               "in percent)", fold_spread_table(evaluation)))
    for sample, b in evaluation.breakdown.items():
        where = "test split, final model" if sample == "test" else "cross-validation, out-of-fold"
        fp = {v: b.cuts[v] for v in b.of_kind("false_positive")}
        fn = {v: b.cuts[v] for v in b.of_kind("false_negative")}
        parts.append(_markdown(f"Table A.4 — false positives ({where})", error_table(fp)))
        if b.by_kind:
            parts.append(_markdown(f"False positives by kind of non-lens ({where})", kind_table(b.by_kind),
                                   "FPR = FP / (TN + FP) among the non-lenses of each kind; Wilson 95 % intervals. "
                                   "Red: cluster members and their colour twins."))
        parts.append(_markdown(f"Table A.5 — false negatives ({where})", error_table(fn)))
    c = evaluation.crossing
    parts.append(f"Purity = completeness: validation threshold {c['val'].threshold:.4g} (purity "
                 f"{c['val'].purity:.3f}, completeness {c['val'].completeness:.3f}); on test it would be "
                 f"{c['test'].threshold:.4g} ({c['test'].purity:.3f}, {c['test'].completeness:.3f}).\n")
    return "\n".join(parts)


def plot_error_rates(rates: Mapping[str, ErrorRates], path: str | Path, *, xlabels: Mapping[str, str]) -> Path:
    """Counts of correct and misclassified objects per bin (top) and the error rate (bottom), per variable.

    Angora et al. (2023) Figs. 8 and 9.  One column per variable.

    Parameters
    ----------
    rates : mapping of str to ErrorRates
        From :func:`~skysieve.evaluate.rate_by_bin`, one kind.
    path : str or Path
    xlabels : mapping of str to str, keyword-only
        Axis label per variable.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.4 * max(len(rates), 1), 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, max(len(rates), 1), squeeze=False, sharex="col", height_ratios=(2, 1))
    for col, (name, r) in enumerate(rates.items()):
        fn = r.kind == "false_negative"
        edges = np.r_[r.lo, r.hi[-1]]
        top, bottom = axes[0, col], axes[1, col]
        top.stairs(r.correct, edges, color="C2", label="TP" if fn else "TN")
        top.stairs(r.errors, edges, color="C0" if fn else "C3", label="FN" if fn else "FP")
        top.set(ylabel="cutouts", title=f"{'lenses' if fn else 'non-lenses'}: {r.errors_total} "
                                        f"{'FN' if fn else 'FP'} of {r.n_total}")
        top.legend(loc="best")
        centers = 0.5 * (edges[1:] + edges[:-1])
        bottom.errorbar(centers, r.rate, yerr=interval_bars(r.rate, r.rate_lo, r.rate_hi), marker="o", ms=3,
                        capsize=2, color="k")
        bottom.set(xlabel=xlabels.get(name, name), ylabel="FNR" if fn else "FPR", ylim=(0, 1.02))
    return save_figure(fig, path)


def plot_purity_completeness(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]], path: str | Path, *,
    thresholds: Mapping[str, float],
) -> Path:
    """Purity and completeness against the threshold, with the chosen thresholds marked (paper Fig. 11).

    Parameters
    ----------
    curves : mapping of str to (thresholds, purity, completeness)
        Per split (``val`` solid, others dashed).
    path : str or Path
    thresholds : mapping of str to float, keyword-only
        Drawn as vertical lines (``crossing``, ``fixed``, ``f1``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for split, (t, purity, completeness) in curves.items():
        ls = "-" if split == "val" else "--"
        ax.plot(t, purity, color="C3", ls=ls, label=f"purity ({split})", drawstyle="steps-pre")
        ax.plot(t, completeness, color="C1", ls=ls, label=f"completeness ({split})", drawstyle="steps-pre")
    for i, (name, t) in enumerate(thresholds.items()):
        ax.axvline(t, color=f"C{i + 4}", lw=1, ls=":" if name == "fixed" else "-", label=f"{name}: {t:.3g}")
    ax.set(xlabel="lens probability threshold", ylabel="purity, completeness", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=7)
    return save_figure(fig, path)


def write_lens_report(evaluation: LensEvaluation, out_dir: str | Path, *, max_curve_points: int = 1000) -> ReportFiles:
    """Write the lens evaluation: the shared report plus the paper's tables and figures.

    Parameters
    ----------
    evaluation : LensEvaluation
    out_dir : str or Path
        Created if missing; the layout is in this module's docstring.
    max_curve_points : int, keyword-only
        Rows per curve CSV.

    Returns
    -------
    ReportFiles
        ``metrics`` holds the shared ``cnn`` and ``folds`` entries and
        :meth:`LensEvaluation.metrics`.
    """
    out = Path(out_dir)
    folds = _finite_fold_metrics(evaluation.folds)
    files = write_evaluation_report({"cnn": evaluation.result}, out, fold_metrics=folds or None,
                                    table_markdown=lens_tables_markdown(evaluation),
                                    max_curve_points=max_curve_points)
    files.metrics = {**files.metrics, **evaluation.metrics()}
    write_metrics_json(files.metrics, files.metrics_json)

    tables = out / "tables"
    files.csvs["tables/a1"] = write_csv(tables / "a1_class_metrics.csv",
                                        _table_columns(class_metrics_table(evaluation)))
    if evaluation.folds:
        files.csvs["tables/a2"] = write_csv(tables / "a2_fold_spread.csv",
                                            _table_columns(fold_spread_table(evaluation)))
    xlabels = {name: spec[1] for name, spec in BREAKDOWN_VARIABLES.items()}
    for sample, b in evaluation.breakdown.items():
        for kind, table_name in (("false_positive", "a4_false_positives"), ("false_negative", "a5_false_negatives")):
            names = b.of_kind(kind)
            files.csvs[f"tables/{table_name}_{sample}"] = write_csv(
                tables / f"{table_name}_{sample}.csv", _table_columns(error_table({v: b.cuts[v] for v in names})))
            files.pngs[f"{kind}s_{sample}"] = plot_error_rates({v: b.bins[v] for v in names},
                                                               out / f"{kind}s_{sample}.png", xlabels=xlabels)
        if b.by_kind:
            files.csvs[f"tables/fp_by_kind_{sample}"] = write_csv(
                tables / f"fp_by_kind_{sample}.csv",
                {"kind": list(b.by_kind), **{c: [v[c] for v in b.by_kind.values()]
                                             for c in ("n", "fp", "rate", "lo", "hi")}})
        for name, r in b.bins.items():
            files.csvs[f"breakdown/{sample}/{name}"] = write_csv(out / "plots" / "breakdown" / sample / f"{name}.csv",
                                                                 r.as_columns())
    for split, (t, purity, completeness) in evaluation.pc_curves.items():
        files.csvs[f"purity_completeness/{split}"] = write_csv(
            out / "plots" / "purity_completeness" / f"{split}.csv",
            {"threshold": t, "purity": purity, "completeness": completeness}, max_points=max_curve_points)
    files.pngs["purity_completeness"] = plot_purity_completeness(evaluation.pc_curves, out / "purity_completeness.png",
                                                                 thresholds=evaluation.thresholds)
    return files


def _finite_fold_metrics(folds: Sequence[Mapping[str, float]]) -> list[dict[str, float]]:
    """Per-fold metrics without ``fold`` and without any metric that is NaN in some fold (box plots need values)."""
    if not folds:
        return []
    keys = [k for k in folds[0] if k != "fold" and all(math.isfinite(f[k]) for f in folds)]
    return [{k: f[k] for k in keys} for f in folds]
