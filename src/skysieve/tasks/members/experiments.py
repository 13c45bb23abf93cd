"""The paper's further experiments on one simulation: band configurations, unseen clusters, learning curve.

* **Band configurations** (Tables D.1–D.3 form): the same simulated sources
  cut out in ``ACS``, ``ALL`` and ``mixed`` (each dropping the sources its
  bands do not cover), every method trained and measured on each.
* **Leave clusters out** (EXP2, Table D.4 form): the named clusters go wholly
  to test; the methods learn from the others and are measured per unseen cluster.
* **Learning curve**: the training split subsampled (stratified by class and
  cluster) to fractions of its size; validation and test unchanged.

The CNN is the ``train_members`` recipe trained with the engine
(:func:`skysieve.train.train_ensemble`, no tuning); ``cnn=False`` runs the
photometric methods only (seconds instead of minutes per row).
"""

import tempfile
from pathlib import Path

import numpy as np
from astropy.table import Table

from skysieve.tasks.members._learning_params import MembersEvaluateParams
from skysieve.tasks.members.cutouts import make_members_cutouts
from skysieve.tasks.members.params import CutoutsMembersParams

__all__ = ["band_config_rows", "leave_out_rows", "learning_curve_rows", "run_one"]

_KEYS = ("ae", "purity", "completeness", "f1", "roc_auc")


class _PhotometryOnly:
    """Stands in for the CNN when ``cnn=False``: a constant score (its rows are dropped)."""

    def predict_on_batch(self, x):
        return np.full(len(x), 0.5)


def run_one(data_dir: Path, train_cfg, eval_cfg: MembersEvaluateParams, *, reference_band: str, cnn: bool):
    """Train (optionally) and score every method on one dataset; returns the evaluation and the test table."""
    from skysieve.data import open_dataset
    from skysieve.tasks.members.scoring import score_members
    from skysieve.train import train_ensemble

    dataset = open_dataset(data_dir)
    model = train_ensemble(train_cfg, dataset).ensemble if cnn else _PhotometryOnly()
    table, ev, meta = score_members(dataset, model, eval_cfg, reference_band=reference_band)
    if not cnn:
        for d in (ev.test, ev.thresholds, ev.rules, ev.roc):
            d.pop("cnn", None)
    return ev, table, meta


def _row(label: str, method: str, m: dict) -> dict:
    return {"experiment": label, "method": method, "n": m["n"], "n_members": m["n_members"],
            **{k + s: m.get(k + s) for k in _KEYS for s in ("", "_lo", "_hi")}}


def band_config_rows(sim_dir: Path, train_cfg, eval_cfg, cut_cfg: CutoutsMembersParams, *, reference_band: str,
                     cnn: bool, configs=("mixed", "ACS", "ALL")) -> list[dict]:
    """Metrics of every method per band configuration (Table D.1 form)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cfg in configs:
            out = Path(tmp) / cfg
            make_members_cutouts(sim_dir, out, cut_cfg.model_copy(update={"band_config": cfg}))
            ev, _, meta = run_one(out, train_cfg, eval_cfg, reference_band=reference_band, cnn=cnn)
            rows += [{**_row(cfg, m, t), "dropped": meta["dropped_missing_band"]} for m, t in ev.test.items()]
    return rows


def leave_out_rows(sim_dir: Path, train_cfg, eval_cfg, cut_cfg: CutoutsMembersParams, *, clusters: tuple[str, ...],
                   reference_band: str, cnn: bool) -> list[dict]:
    """Per unseen cluster, every method trained on the other clusters (Table D.4 form)."""
    from skysieve.tasks.members.evaluate import bootstrap_metrics

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "leave_out"
        make_members_cutouts(sim_dir, out, cut_cfg.model_copy(update={"leave_out_clusters": tuple(clusters)}))
        ev, table, _ = run_one(out, train_cfg, eval_cfg, reference_band=reference_band, cnn=cnn)
        test = np.char.strip(np.asarray(table["split"]).astype(str)) == "test"
        names = np.char.strip(np.asarray(table["cluster"]).astype(str))
        y = np.asarray(table["label"]).astype(int)
        for c in clusters:
            sel = test & (names == c)
            for m, col in (("cnn", "cnn_prob"), ("rf", "rf_prob"), ("gmm", "gmm_prob")):
                if m in ev.thresholds and sel.any():
                    mm = bootstrap_metrics(y[sel], np.asarray(table[col])[sel], threshold=ev.thresholds[m],
                                           n_boot=eval_cfg.n_bootstrap, seed=eval_cfg.seed)
                    rows.append(_row(c, m, mm))
        rows += [_row("all unseen", m, t) for m, t in ev.test.items()]
    return rows


def _subsample(catalog_path: Path, fraction: float, *, seed: int) -> None:
    cat = Table.read(catalog_path)
    split = np.char.strip(np.asarray(cat["split"]).astype(str))
    rng = np.random.default_rng(seed)
    keep = split != "train"
    names = np.char.strip(np.asarray(cat["cluster"]).astype(str))
    for c in np.unique(names):
        for y in (0, 1):
            idx = np.flatnonzero((split == "train") & (names == c) & (np.asarray(cat["label"]) == y))
            keep[rng.permutation(idx)[: int(round(fraction * idx.size))]] = True
    cat["split"] = np.where(keep, split, "unused")
    cat.write(catalog_path, overwrite=True)


def learning_curve_rows(sim_dir: Path, train_cfg, eval_cfg, cut_cfg: CutoutsMembersParams, *, fractions, seed: int,
                        reference_band: str, cnn: bool) -> list[dict]:
    """Metrics of every method against the number of training sources."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "full"
        make_members_cutouts(sim_dir, base, cut_cfg)
        for f in fractions:
            out = Path(tmp) / f"frac_{f:g}"
            out.mkdir()
            (out / "cutouts.h5").symlink_to(base / "cutouts.h5")
            Table.read(base / "catalog.fits").write(out / "catalog.fits")
            _subsample(out / "catalog.fits", f, seed=seed)
            ev, _, meta = run_one(out, train_cfg, eval_cfg, reference_band=reference_band, cnn=cnn)
            rows += [{**_row(f"{f:g}", m, t), "n_train": meta["n_train"]} for m, t in ev.test.items()]
    return rows
