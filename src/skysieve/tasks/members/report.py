"""The members report: Markdown tables in the paper's forms, CSVs for ``dvc plots``, PNGs and ``metrics.json``."""

from pathlib import Path

import numpy as np

from skysieve.evaluate import ReportFiles, write_metrics_json
from skysieve.evaluate.report import write_csv
from skysieve.tasks.members.evaluate import METHODS, MembersEvaluation

__all__ = ["PAPER_TABLE_D1", "write_experiment_tables", "write_members_report", "write_separability_table"]

#: Angora et al. (2020) Table D.1, members (CLM), mixed* configuration, in %.
PAPER_TABLE_D1 = {"ae": 89.3, "purity": 88.3, "completeness": 86.7, "f1": 87.4}

_BIN_LABELS = {"mag": "F814W magnitude", "colour_offset": "colour offset from the red sequence (F814W − F160W)",
               "z": "cluster redshift"}


def _fmt(m: dict, k: str) -> str:
    v, lo, hi = m.get(k), m.get(f"{k}_lo"), m.get(f"{k}_hi")
    if v is None or not np.isfinite(v):
        return "–"
    return f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def _markdown(ev: MembersEvaluation, meta: dict) -> str:
    lines = ["# Cluster members: CNN against the photometric methods (Angora et al. 2020)", "",
             f"Band configuration **{meta.get('band_config')}**, channels {meta.get('channels')}; test split: "
             f"{ev.test['cnn']['n']} sources, {ev.test['cnn']['n_members']} members. Thresholds chosen for member "
             f"purity ≥ {meta.get('target_purity')} (the F1-best where that purity is reached only below completeness "
             f"{meta.get('min_completeness', 0)}) on the validation split ({meta.get('n_val')} sources) "
             f"plus the out-of-fold training scores where available (sources per method: "
             f"{meta.get('threshold_sample')}). "
             "Percentages with 95 % bootstrap intervals over the test sources.", "",
             "| method | threshold (rule) | AE | purity | completeness | F1 | ROC-AUC |",
             "|---|---|---|---|---|---|---|"]
    for m, t in ev.test.items():
        lines.append(f"| {METHODS.get(m, m)} | {ev.thresholds[m]:.3g} ({ev.rules[m]}) | {_fmt(t, 'ae')} | "
                     f"{_fmt(t, 'purity')} | {_fmt(t, 'completeness')} | {_fmt(t, 'f1')} | {_fmt(t, 'roc_auc')} |")
    p = PAPER_TABLE_D1
    lines.append(f"| paper, Table D.1 (CNN, mixed*) | – | {p['ae']} | {p['purity']} | {p['completeness']} | "
                 f"{p['f1']} | ≈ 94 (Fig. 7: four other clusters) |")
    if ev.auc_vs_cnn:
        lines += ["", "## Does the CNN rank members better than the baselines?", "",
                  "ROC-AUC of the CNN minus that of each baseline on the same test sources, in percentage points, "
                  "with the 95 % interval of a paired bootstrap; the last column is the fraction of resamples in "
                  "which the CNN does not come out ahead (a one-sided bootstrap p-value). The paper's CNN is "
                  "≈ 8 points above its Bayesian colour method (Fig. 7).", "",
                  "| baseline | ΔAUC, CNN − baseline | resamples with the CNN not ahead |", "|---|---|---|"]
        for m, d in ev.auc_vs_cnn.items():
            lines.append(f"| {METHODS.get(m, m)} | {100 * d['value']:+.1f} [{100 * d['lo']:+.1f}, "
                         f"{100 * d['hi']:+.1f}] | {d['fraction_not_above_zero']:.2f} |")
    for var, per in ev.bins.items():
        lines += ["", f"## By {_BIN_LABELS.get(var, var)} (Table 2 / D.3 form)", "",
                  "| method | bin | n (members) | purity | completeness | F1 |", "|---|---|---|---|---|---|"]
        for m, rows in per.items():
            for r in rows:
                if not r.get("n"):
                    continue
                lines.append(f"| {m} | [{r['bin_lo']:g}, {r['bin_hi']:g}) | {r['n']} ({r['n_members']}) | "
                             f"{_fmt(r, 'purity')} | {_fmt(r, 'completeness')} | {_fmt(r, 'f1')} |")
    lines += ["", "## Agreement of the three selections (Fig. D.2 form)", "",
              "| selected as member by | sources | of which members |", "|---|---|---|"]
    lines += [f"| {r['selected_by']} | {r['n']} | {r['n_members']} |" for r in ev.venn]
    return "\n".join(lines) + "\n"


def _plots(ev: MembersEvaluation, out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    pngs = {}
    fig, ax = plt.subplots(figsize=(5, 5))
    for m, (fpr, tpr, _) in ev.roc.items():
        t = ev.test[m]
        ax.plot(fpr, tpr, label=f"{m}: AUC {t['roc_auc']:.3f} [{t['roc_auc_lo']:.3f}, {t['roc_auc_hi']:.3f}]")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate (member completeness)", title="ROC, test split")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    pngs["roc"] = out / "roc.png"
    fig.savefig(pngs["roc"], dpi=110)
    plt.close(fig)
    nvar = len(ev.bins)
    if nvar:
        fig, axes = plt.subplots(1, nvar, figsize=(4.5 * nvar, 3.8), squeeze=False)
        for ax, (var, per) in zip(axes[0], ev.bins.items()):
            for j, (m, rows) in enumerate(per.items()):
                rows = [r for r in rows if r.get("n")]
                x = np.array([0.5 * (r["bin_lo"] + r["bin_hi"]) for r in rows])
                f1 = np.array([r["f1"] for r in rows])
                err = np.array([[r["f1"] - r["f1_lo"], r["f1_hi"] - r["f1"]] for r in rows]).T if rows else None
                ax.errorbar(x + 0.01 * (j - 1) * (np.ptp(x) if x.size > 1 else 1), f1, yerr=err, marker="o",
                            capsize=3, label=m)
            ax.set(xlabel=_BIN_LABELS.get(var, var), ylabel="member F1", ylim=(0, 1.05))
            ax.legend(fontsize=8)
        fig.tight_layout()
        pngs["bins"] = out / "bins.png"
        fig.savefig(pngs["bins"], dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 5))
    names = list(ev.test)
    centres = {names[0]: (-0.45, 0.3), names[1]: (0.45, 0.3), names[2]: (0.0, -0.45)} if len(names) == 3 else {}
    for name, (cx, cy) in centres.items():
        ax.add_patch(Circle((cx, cy), 0.75, alpha=0.25, label=name))
        ax.text(cx * 1.9, cy * 1.9, name, ha="center", fontsize=11)
    for r in ev.venn:
        sel = r["selected_by"].split("+")
        if r["selected_by"] == "none" or not centres:
            continue
        x = np.mean([centres[s][0] for s in sel]) * (1.2 if len(sel) == 1 else 1.0)
        y = np.mean([centres[s][1] for s in sel]) * (1.2 if len(sel) == 1 else 1.0)
        ax.text(x, y, f"{r['n']}\n({r['n_members']} m)", ha="center", va="center", fontsize=9)
    none = next((r for r in ev.venn if r["selected_by"] == "none"), {"n": 0, "n_members": 0})
    ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), aspect="equal",
           title=f"test sources selected as members (none: {none['n']}, {none['n_members']} m)")
    ax.axis("off")
    fig.tight_layout()
    pngs["venn"] = out / "venn.png"
    fig.savefig(pngs["venn"], dpi=110)
    plt.close(fig)
    return pngs


def write_members_report(ev: MembersEvaluation, out_dir: str | Path, *, meta: dict, max_curve_points: int = 500
                         ) -> ReportFiles:
    """Write ``metrics.json``, ``table.md``, ``metrics.csv``, ``bins_<var>.csv``, ``roc_<method>.csv``,
    ``venn.csv`` and ``roc.png``, ``bins.png``, ``venn.png`` into ``out_dir`` (created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {"test": ev.test, "thresholds": ev.thresholds, "rules": ev.rules, "meta": meta,
               "paper_table_d1": PAPER_TABLE_D1, "auc_cnn_minus": ev.auc_vs_cnn}
    files = ReportFiles(out_dir=out, metrics_json=write_metrics_json(metrics, out / "metrics.json"), metrics=metrics)
    keys = ("purity", "completeness", "f1", "ae", "roc_auc")
    cols: dict[str, list] = {"method": list(ev.test), "threshold": [ev.thresholds[m] for m in ev.test]}
    for k in keys:
        for suffix in ("", "_lo", "_hi"):
            cols[k + suffix] = [ev.test[m].get(k + suffix) for m in ev.test]
    cols["n"] = [ev.test[m]["n"] for m in ev.test]
    cols["n_members"] = [ev.test[m]["n_members"] for m in ev.test]
    files.csvs["metrics"] = write_csv(out / "metrics.csv", cols)
    for var, per in ev.bins.items():
        rows = [{"method": m, **r} for m, rr in per.items() for r in rr if r.get("n")]
        names = ["method", "bin_lo", "bin_hi", "n", "n_members"] + [k + s for k in keys[:3] for s in ("", "_lo", "_hi")]
        files.csvs[f"bins_{var}"] = write_csv(out / f"bins_{var}.csv", {k: [r.get(k) for r in rows] for k in names})
    for m, (fpr, tpr, thr) in ev.roc.items():
        files.csvs[f"roc_{m}"] = write_csv(out / f"roc_{m}.csv", {"fpr": fpr, "tpr": tpr,
                                                                   "threshold": np.clip(thr, 0, 1)},
                                           max_points=max_curve_points)
    files.csvs["venn"] = write_csv(out / "venn.csv", {k: [r[k] for r in ev.venn] for k in ("selected_by", "n",
                                                                                             "n_members")})
    files.markdown = out / "table.md"
    files.markdown.write_text(_markdown(ev, meta))
    files.pngs.update(_plots(ev, out))
    return files


_TITLES = {"band_configs": "Band configurations (Tables D.1–D.3 form)",
           "leave_out": "Clusters left out of training (EXP2, Table D.4 form)",
           "learning_curve": "Learning curve (fraction of the training split)"}


def write_experiment_tables(tables: dict[str, list[dict]], out_dir: str | Path) -> dict[str, Path]:
    """``<name>.csv`` per experiment and one ``experiments.md`` (percentages with 95 % bootstrap intervals),
    plus ``learning_curve.png`` when there is a learning curve."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    lines = ["# Members: further experiments (Angora et al. 2020, §4 and appendix D)", "",
             "Member metrics on the test sources, thresholds chosen on validation for the target purity; "
             "95 % bootstrap intervals in brackets.", ""]
    for name, rows in tables.items():
        if not rows:
            continue
        cols = list(dict.fromkeys(k for r in rows for k in r))
        written[name] = write_csv(out / f"{name}.csv", {k: [r.get(k) for r in rows] for k in cols})
        extra = [k for k in ("dropped", "n_train") if k in cols]
        lines += [f"## {_TITLES.get(name, name)}", "",
                  "| experiment | method | n (members) | " + " | ".join(extra + ["AE", "purity", "completeness", "F1",
                                                                             "ROC-AUC"]) + " |",
                  "|---|---|---|" + "---|" * (len(extra) + 5)]
        for r in rows:
            lines.append(f"| {r['experiment']} | {r['method']} | {r['n']} ({r['n_members']}) | "
                         + " | ".join([str(r[k]) for k in extra] + [_fmt(r, k) for k in ("ae", "purity",
                                                                                          "completeness", "f1",
                                                                                          "roc_auc")]) + " |")
        lines.append("")
    written["markdown"] = out / "experiments.md"
    written["markdown"].write_text("\n".join(lines))
    if tables.get("learning_curve"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4))
        rows = tables["learning_curve"]
        for m in dict.fromkeys(r["method"] for r in rows):
            rr = [r for r in rows if r["method"] == m]
            x = np.array([r["n_train"] for r in rr])
            f1 = np.array([r["f1"] for r in rr])
            err = np.array([[r["f1"] - r["f1_lo"], r["f1_hi"] - r["f1"]] for r in rr]).T
            ax.errorbar(x, f1, yerr=err, marker="o", capsize=3, label=m)
        ax.set(xlabel="training sources", ylabel="member F1 (test)", ylim=(0, 1.05))
        ax.legend()
        fig.tight_layout()
        written["learning_curve_png"] = out / "learning_curve.png"
        fig.savefig(written["learning_curve_png"], dpi=110)
        plt.close(fig)
    return written


def write_separability_table(rows: list[dict], out_dir: str | Path) -> dict[str, Path]:
    """``separability.csv`` and ``separability.md``: the simulation's ceiling on its true properties
    (:func:`~skysieve.tasks.members.separability.truth_separability_rows`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    written = {"separability": write_csv(out / "separability.csv", {k: [r.get(k) for r in rows] for k in cols})}
    r0 = rows[0]
    lines = ["# Members: separability of the simulation on its true properties (no pixels)", "",
             f"{r0['n']} sources ({r0['n_members']} members); true magnitudes with {r0['mag_noise']:g} mag "
             "noise; gradient-boosted trees, 5-fold out-of-fold scores; 95 % bootstrap intervals over the sources. "
             f"Non-members within 1σ of their cluster's red sequence (F606W − F814W): "
             f"{100 * r0['nonmembers_within_1sigma_rs']:.1f} %.", "",
             "| features | ROC-AUC (%) | member purity at completeness 0.85 (%) | false positives there that are "
             "infall interlopers (%) |", "|---|---|---|---|"]
    lines += [f"| {r['features']} | {100 * r['roc_auc']:.1f} [{100 * r['roc_auc_lo']:.1f}, "
              f"{100 * r['roc_auc_hi']:.1f}] | {100 * r['purity_at_c85']:.1f} [{100 * r['purity_at_c85_lo']:.1f}, "
              f"{100 * r['purity_at_c85_hi']:.1f}] | "
              f"{100 * r.get('near_share_of_fp_c85', float('nan')):.0f} |" for r in rows]
    written["separability_md"] = out / "separability.md"
    written["separability_md"].write_text("\n".join(lines) + "\n")
    return written
