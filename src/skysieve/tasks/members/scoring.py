"""Score the same sources with the CNN and both photometric baselines, and measure them (``evaluate_members``)."""

import numpy as np
from astropy.table import Table

from skysieve.tasks.members._learning_params import MembersEvaluateParams
from skysieve.tasks.members.baselines import (
    ColourMixtureMembers,
    RandomForestMembers,
    aperture_magnitudes,
    photometry_features,
)
from skysieve.tasks.members.evaluate import MembersEvaluation, evaluate_members, red_sequence_offset

__all__ = ["catalog_features", "score_members"]


def catalog_features(dataset, cfg: MembersEvaluateParams, *, reference_band: str, block: int = 256) -> np.ndarray:
    """Aperture-photometry features (:func:`~skysieve.tasks.members.baselines.photometry_features`) of every row."""
    import h5py

    from skysieve.data.dataset import IMAGES_KEY
    from skysieve.errors import DataError

    with h5py.File(dataset.tensor_path, "r") as h5:
        attrs = h5[IMAGES_KEY].attrs
        zp = np.asarray(attrs["zero_points_ab"], dtype=float)
        scale = float(attrs["pixel_arcsec"])
    channels = list(dataset.channels)
    if reference_band not in channels:
        raise DataError(f"{dataset.tensor_path}: reference band {reference_band} (simulate_members.reference_band) "
                        f"is not among the channels {channels}")
    radii = tuple(r / scale for r in cfg.aperture_radii_arcsec)
    feats = []
    for start in range(0, len(dataset), block):
        rows = np.arange(start, min(start + block, len(dataset)))
        mags = aperture_magnitudes(dataset.read(rows), zp, radii_px=radii)
        feats.append(photometry_features(mags, reference=channels.index(reference_band)))
    return np.concatenate(feats)


def _oof_baselines(x: np.ndarray, y: np.ndarray, groups: np.ndarray, cfg: MembersEvaluateParams, *,
                   k: int = 5) -> dict[str, np.ndarray]:
    """Out-of-fold scores of both baselines on the training rows (stratified k-fold refits)."""
    from sklearn.model_selection import StratifiedKFold

    out = {"rf": np.empty(len(y)), "gmm": np.empty(len(y))}
    for fit, held in StratifiedKFold(k, shuffle=True, random_state=cfg.seed).split(x, y):
        rf = RandomForestMembers(n_estimators=cfg.rf_trees, seed=cfg.seed).fit(x[fit], y[fit])
        out["rf"][held] = rf.predict_proba(x[held])
        gmm = ColourMixtureMembers(n_components=cfg.gmm_components, seed=cfg.seed).fit(x[fit], y[fit], groups[fit])
        out["gmm"][held] = gmm.predict_proba(x[held], groups[held])
    return out


def _oof_cnn(model, oof: Table | None, ids: np.ndarray) -> np.ndarray | None:
    """The engine's out-of-fold CNN scores of the training rows (``ids`` order), Platt-scaled like the ensemble."""
    if oof is None or getattr(model, "calibrator", None) is None:
        return None
    order = {int(i): j for j, i in enumerate(np.asarray(oof["id"]))}
    if not all(int(i) in order for i in ids):
        return None
    raw = np.asarray(oof["score_raw"], float)[[order[int(i)] for i in ids]]
    return np.asarray(model.calibrator.predict_proba(raw), float)


def score_members(dataset, model, cfg: MembersEvaluateParams, *, reference_band: str, oof: Table | None = None
                  ) -> tuple[Table, MembersEvaluation, dict]:
    """CNN, random-forest and colour-method scores of the val and test sources, and their evaluation.

    The baselines are fitted on the ``train`` split's aperture photometry;
    the CNN is the trained fold ensemble.  ``oof``: the engine's
    ``oof.fits`` (out-of-fold CNN scores), used with
    ``threshold_sample: val+oof``.

    Returns
    -------
    table : Table
        :func:`skysieve.evaluate.score_cutouts` columns plus ``rf_prob``,
        ``gmm_prob`` and ``colour_offset`` (mag from the cluster's red sequence).
    evaluation : MembersEvaluation
    meta : dict
        Band configuration, channels, split sizes, target purity.
    """
    from skysieve.evaluate import score_cutouts

    catalog = dataset.catalog
    split = np.char.strip(np.asarray(catalog["split"], dtype=str))
    y = np.asarray(catalog["label"]).astype(int)
    groups = np.char.strip(np.asarray(catalog["cluster"], dtype=str))
    x = catalog_features(dataset, cfg, reference_band=reference_band)
    train = split == "train"
    rf = RandomForestMembers(n_estimators=cfg.rf_trees, seed=cfg.seed).fit(x[train], y[train])
    gmm = ColourMixtureMembers(n_components=cfg.gmm_components, seed=cfg.seed).fit(x[train], y[train], groups[train])
    table = score_cutouts(dataset, model)
    ids = np.asarray(catalog["id"])
    pos = np.searchsorted(ids, np.asarray(table["id"]), sorter=np.argsort(ids))
    rows = np.argsort(ids)[pos]
    table["rf_prob"] = rf.predict_proba(x[rows])
    table["gmm_prob"] = gmm.predict_proba(x[rows], groups[rows])
    colour = np.asarray(catalog[cfg.colour_column], float) if cfg.colour_column in catalog.colnames else \
        np.full(len(catalog), np.nan)
    mag = np.asarray(catalog[cfg.mag_column], float)
    offset = red_sequence_offset(colour, mag, y, groups)
    table["colour_offset"] = offset[rows]
    tsplit = np.char.strip(np.asarray(table["split"], dtype=str))
    val, test = tsplit == "val", tsplit == "test"
    ty = np.asarray(table["label"]).astype(int)
    scores = {m: {"val": np.asarray(table[c])[val], "test": np.asarray(table[c])[test]}
              for m, c in (("cnn", "cnn_prob"), ("rf", "rf_prob"), ("gmm", "gmm_prob"))}
    truth_test = {"mag": mag[rows][test], "colour_offset": offset[rows][test],
                  "z": np.asarray(catalog["z_cluster"], float)[rows][test]}
    bins = {"mag": cfg.mag_bins, "colour_offset": cfg.colour_offset_bins, "z": cfg.z_bins}
    if cfg.threshold_sample == "val+oof":
        tr_ids = ids[train]
        oof_scores = {**_oof_baselines(x[train], y[train], groups[train], cfg), "cnn": _oof_cnn(model, oof, tr_ids)}
        for m, s_oof in oof_scores.items():
            if s_oof is not None:
                scores[m]["thr_labels"] = np.r_[ty[val], y[train]]
                scores[m]["thr_scores"] = np.r_[scores[m]["val"], s_oof]
    ev = evaluate_members({"val": ty[val], "test": ty[test]}, scores, truth_test, target_purity=cfg.target_purity,
                          min_completeness=cfg.min_completeness, n_boot=cfg.n_bootstrap, seed=cfg.seed, bins=bins)
    ev.references = [float(v) for v in scores["cnn"]["val"]]
    meta = {"band_config": catalog.meta.get("BANDCFG"), "channels": list(dataset.channels),
            "n_train": int(train.sum()), "n_val": int(val.sum()), "n_test": int(test.sum()),
            "target_purity": cfg.target_purity, "min_completeness": cfg.min_completeness,
            "dropped_missing_band": int(catalog.meta.get("NDROP", 0)),
            "threshold_sample": {m: int(len(v.get("thr_labels", v["val"]))) for m, v in scores.items()}}
    return table, ev, meta
