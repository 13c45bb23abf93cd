"""``make_lens_catalog``: a registered lens classifier over new multi-band cutouts → a scored FITS table.

Order of work (every check comes before the first expensive step):

1. resolve the model URI and load the CNN, its operating threshold
   (``threshold.cnn``), its validation score distribution (``cnn_prob``, for
   rank percentiles) and its lens catalog config
   (:func:`load_lens_catalog_model`);
2. check the inputs from their headers — a directory of cutouts
   (:func:`~skysieve.tasks.lens._inputs.open_cutout_dir`) or large band images and a
   positions table (:func:`~skysieve.catalog._positions.open_positions`) — and the
   truth table;
3. stream the cutouts through the CNN batch by batch;
4. one row per input cutout or position: ``score``, ``is_lens``,
   ``percentile``, flags; the header traces it to the model, the inputs and
   the code.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
from astropy.table import Table

from skysieve.catalog import CatalogResult, ModelRef, load_pyfunc, model_header, progress_bars, resolve_model
from skysieve.errors import ConfigError, DataError, RegistryError
from skysieve.tasks.lens._catalog_config import LensCatalogConfig, read_lens_catalog_config
from skysieve.tasks.lens._inputs import CutoutDirectory, PositionCutouts, open_cutout_dir, open_positions

__all__ = ["LensCatalogModel", "load_lens_catalog_model", "make_lens_catalog", "read_lens_truth"]


@dataclass
class LensCatalogModel:
    """A registered lens classifier, loaded with what its catalog needs.

    Attributes
    ----------
    ref : ModelRef
        The resolved version (name, version, alias, run id, tags).
    cnn : CnnModel
        Fold models averaged, then Platt; ``predict_proba((n, size, size, nchan)) -> (n,)``.
    config : LensCatalogConfig
        Bands in channel order, pixel scale, cutout side, unit.
    threshold : float
        The operating threshold (tag ``threshold.cnn``): a lens iff ``score >= threshold``.
    operating_point : str
        Which threshold that is (``fixed``, ``crossing``, ``f1``, ``balanced``; tag ``operating_point``).
    reference : ReferenceDistribution
        The validation scores ``cnn_prob`` that percentiles are taken against.
    """

    ref: ModelRef
    cnn: Any
    config: LensCatalogConfig
    threshold: float
    operating_point: str
    reference: Any
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """``model 'NAME' vN``."""
        return self.ref.where


def load_lens_catalog_model(uri: str | ModelRef) -> LensCatalogModel:
    """Resolve and load a registered lens classifier for catalog production.

    Parameters
    ----------
    uri : str or ModelRef
        ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` of a version
        registered by ``skysieve register lens``, or one already resolved
        (:func:`~skysieve.catalog.resolve_model`).

    Returns
    -------
    LensCatalogModel

    Raises
    ------
    RegistryError
        An unknown model, version or alias; a version that is not a lens
        classifier, lacks its lens catalog config, its ``threshold.cnn`` or its
        reference scores; a CNN whose channels or cutout shape disagree with
        the config.
    """
    from skysieve.registry import CnnModel, load_reference_distributions

    ref = uri if isinstance(uri, ModelRef) else resolve_model(uri)
    where, tags = ref.where, ref.tags
    if ref.task != "lens":
        raise RegistryError(f"{where} is not a lens classifier (tag skysieve.task = {tags.get('skysieve.task')!r}); "
                            "an SZ ensemble makes its catalog from maps (skysieve catalog --maps …)")
    config = read_lens_catalog_config(ref.documents, where=where, tags=tags)
    try:
        threshold = float(tags["threshold.cnn"])
    except (KeyError, ValueError):
        threshold = math.nan
    if not math.isfinite(threshold):
        raise RegistryError(f"{where} has no valid 'threshold.cnn' tag (got {tags.get('threshold.cnn')!r}); register "
                            "it with `skysieve register lens`, which stores the operating threshold")
    cnn = load_pyfunc(f"models:/{ref.name}/{ref.version}", "lens CNN")
    if not isinstance(cnn, CnnModel):
        raise RegistryError(f"{where} is a {type(cnn).__name__}, not a skysieve CNN model (log it with "
                            "skysieve.registry.log_cnn_model; `skysieve register lens` does)")
    mismatch = config.cnn_mismatch(cnn.channels, cnn.input_shape)
    if mismatch:
        raise RegistryError(f"{where}: {mismatch}; re-register it with the params it was trained with")
    refs = load_reference_distributions(ref.name, version=ref.version)
    if "cnn_prob" not in refs:
        raise RegistryError(f"{where}: its reference scores hold {sorted(refs)}, not 'cnn_prob'; re-register it with "
                            "`skysieve register lens` (the validation scores of `skysieve evaluate lens`)")
    return LensCatalogModel(ref=ref, cnn=cnn, config=config, threshold=threshold,
                            operating_point=tags.get("operating_point", "unknown"), reference=refs["cnn_prob"],
                            tags=dict(tags))


def read_lens_truth(truth: Table | str | Path) -> tuple[Table, str]:
    """Read a truth table with ``id`` and ``label`` (1 or True = lens); return it and its name for messages.

    Raises
    ------
    DataError
        A missing or unreadable file; no ``id`` or ``label`` column (naming
        the columns it has); labels other than 0/1; an id twice.
    """
    if isinstance(truth, Table):
        table, name = truth, "truth table"
    else:
        path = Path(truth)
        name = str(path)
        if not path.is_file():
            raise DataError(f"{path}: truth table not found")
        try:
            table = Table.read(path, format="ascii.csv" if path.suffix.lower() == ".csv" else None)
        except Exception as exc:  # astropy raises many kinds on damaged files
            raise DataError(f"{path}: unreadable truth table ({exc.__class__.__name__}: {exc})") from exc
    missing = [c for c in ("id", "label") if c not in table.colnames]
    if missing:
        raise DataError(f"{name}: no {missing} column(s) (has {table.colnames}); the truth table needs id (as in the "
                        "catalog: the cutout file stem, or the positions' id) and label (1 = lens, 0 = not)")
    labels = np.asarray(table["label"])
    if labels.dtype != bool and not np.isin(labels, (0, 1)).all():
        bad = np.unique(labels[~np.isin(labels, (0, 1))])[:5]
        raise DataError(f"{name}: label must be 0/1 or boolean (got {bad.tolist()})")
    ids = np.asarray(table["id"]).astype(str)
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{name}: ids given more than once: {uniq[counts > 1][:5].tolist()}; one row per id")
    return Table({"id": ids, "label": labels.astype(bool)}), name


def _inputs(model: LensCatalogModel, cutouts, images, positions) -> CutoutDirectory | PositionCutouts:
    usage = "give --cutouts DIR, or --images A.fits B.fits … --positions pos.fits (one image per band)"
    if cutouts is not None and (images or positions is not None):
        raise ConfigError(f"{model.where}: give either a cutout directory or images with positions, not both; {usage}")
    if cutouts is not None:
        return open_cutout_dir(cutouts, model.config, who=model.where)
    if images and positions is not None:
        return open_positions(images, positions, model.config, who=model.where)
    if images:
        raise ConfigError(f"images {[str(p) for p in images]} given without positions; add --positions TABLE "
                          "(ra, dec in degrees, optional id)")
    if positions is not None:
        raise ConfigError(f"positions {positions} given without images; add --images with one FITS image per band "
                          f"({', '.join(model.config.channels)})")
    raise ConfigError(f"{model.where} is a lens classifier: {usage}")


def _header(model: LensCatalogModel, inputs, *, n_scored: int, n_lens: int, n_nan: int) -> dict[str, Any]:
    cfg = model.config
    meta: dict[str, Any] = {
        **model_header(model.ref, task="lens"),
        "THR_CNN": float(model.threshold),
        "OPPOINT": model.operating_point,
        "REFN": len(model.reference),
        "SIZE_PX": cfg.size_px, "PIX_ASEC": float(cfg.pixel_arcsec), "PIXUNIT": cfg.unit, "NBANDS": len(cfg.bands),
    }
    for i, band in enumerate(cfg.bands, start=1):
        meta[f"BAND{i}"] = band.name
        meta[f"ZP{i}"] = float(band.zero_point_ab)
    meta.update(inputs.header())
    meta.update({"NSCORED": n_scored, "NLENS": n_lens, "NNAN": n_nan})
    return meta


def make_lens_catalog(*, model: str | LensCatalogModel, cutouts: str | Path | None = None,
                      images: Sequence[str | Path] | None = None, positions: str | Path | None = None,
                      truth: Table | str | Path | None = None, batch_size: int = 512,
                      progress: bool = False) -> CatalogResult:
    """Score new multi-band cutouts with a registered lens classifier.

    Give either ``cutouts`` (a directory) or ``images`` and ``positions``;
    the input formats are in :mod:`skysieve.tasks.lens._inputs` and
    ``docs/lens.md``.

    Parameters
    ----------
    model : str or LensCatalogModel, keyword-only
        ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` of a lens
        classifier, or one loaded with :func:`load_lens_catalog_model`.
    cutouts : path, keyword-only, optional
        Directory of cutout files (one image HDU per band, ``FILTER``) or
        band files ``<stem>_<FILTER>.fits``.
    images : sequence of path, keyword-only, optional
        One large image per band (``FILTER``, celestial WCS).
    positions : path, keyword-only, optional
        Table of ``ra``, ``dec`` (deg) and optional ``id`` (FITS, CSV, ECSV).
    truth : Table or path, keyword-only, optional
        ``id`` and ``label``: adds a ``label`` column and purity,
        completeness and F1 of ``is_lens`` (:attr:`CatalogResult.truth`,
        key ``cnn``).
    batch_size : int, keyword-only
        Cutouts read and scored at a time (memory holds one batch).
    progress : bool, keyword-only
        Show a progress bar on stderr.

    Returns
    -------
    CatalogResult
        ``table``: one row per cutout or position, in input order — ``id``,
        ``ra``, ``dec`` (deg), ``score`` (calibrated probability; NaN if not
        scored), ``is_lens`` (``score >= threshold``), ``percentile`` (mid-rank
        in the validation scores, 0–1), ``file`` (cutouts) or ``x``, ``y``,
        ``flag_edge``, ``off_image`` (positions), ``flag_nan``, and ``label``
        with a truth table; ``meta`` the FITS header.  ``summary``: counts
        and timings.

    Raises
    ------
    RegistryError
        The model does not resolve or is not a lens classifier with its config, threshold and references.
    ConfigError
        Neither or both inputs; a batch size < 1.
    DataError
        Bad inputs (see :func:`~skysieve.tasks.lens._inputs.open_cutout_dir`,
        :func:`~skysieve.catalog._positions.open_positions`) or truth table, or truth ids
        that match no row.
    """
    from skysieve.evaluate import confusion_counts

    t_start = perf_counter()
    lm = model if isinstance(model, LensCatalogModel) else load_lens_catalog_model(model)
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1 (got {batch_size})")
    truth_table, truth_name = read_lens_truth(truth) if truth is not None else (None, "")
    inputs = _inputs(lm, cutouts, images, positions)
    try:
        ids = np.asarray(inputs.ids)
        keys = ids.astype(str)
        if truth_table is not None and not np.isin(keys, truth_table["id"]).any():
            raise DataError(f"{truth_name}: none of its ids matches a catalog id (catalog ids such as "
                            f"{keys[:3].tolist()}, truth ids such as {truth_table['id'][:3].tolist()}); ids are the "
                            "cutout file stems or the positions table's id column")
        n = inputs.n
        score = np.full(n, np.nan)
        flag_nan = np.zeros(n, dtype=bool)
        t0 = perf_counter()
        with progress_bars(progress) as add:
            advance = add("scoring cutouts", int(inputs.usable.sum()))
            for index, batch in inputs.batches(batch_size):
                finite = np.isfinite(batch).all(axis=(1, 2, 3))
                flag_nan[index[~finite]] = True
                if finite.any():
                    score[index[finite]] = lm.cnn.predict_proba(batch[finite])
                advance(index.size)
        t_score = perf_counter() - t0
    finally:
        if isinstance(inputs, PositionCutouts):
            inputs.close()

    scored = np.isfinite(score)
    if not scored.any():
        where = inputs.directory if isinstance(inputs, CutoutDirectory) else positions
        raise DataError(f"{where}: none of the {n} cutouts could be scored ({int(flag_nan.sum())} with NaN or "
                        "infinite pixels, the rest not inside every band image); nothing written — check the "
                        "inputs' masks and footprints")
    table = Table()
    table["id"] = ids
    table["ra"], table["dec"] = inputs.ra, inputs.dec
    table["score"] = score
    table["is_lens"] = scored & (np.where(scored, score, -np.inf) >= lm.threshold)
    table["percentile"] = lm.reference.percentile(score)
    for name, (values, unit) in inputs.columns().items():
        table[name] = values
        table[name].unit = unit
    table["flag_nan"] = flag_nan
    table["ra"].unit = table["dec"].unit = "deg"
    table.meta.update(_header(lm, inputs, n_scored=int(scored.sum()), n_lens=int(table["is_lens"].sum()),
                              n_nan=int(flag_nan.sum())))

    counts = None
    summary: dict[str, Any] = {}
    if truth_table is not None:
        lookup = dict(zip(truth_table["id"], truth_table["label"]))
        label = np.array([int(lookup[k]) if k in lookup else -1 for k in keys], dtype=np.int16)
        table["label"] = label
        use = (label >= 0) & scored
        counts = {"cnn": confusion_counts(label[use].astype(bool), np.asarray(table["is_lens"])[use])}
        table.meta.update({"TRUTH": Path(truth_name).name, "NTRUTH": int(use.sum())})
        summary.update({"n_truth": int(use.sum()), "n_truth_unmatched": int(np.count_nonzero(label < 0)),
                        "n_truth_lenses": int(label[use].sum())})
    t_total = perf_counter() - t_start
    summary.update({
        "n_rows": n, "n_scored": int(scored.sum()), "n_lenses": int(table["is_lens"].sum()),
        "n_nan": int(flag_nan.sum()), "threshold": lm.threshold, "operating_point": lm.operating_point,
        "t_score_s": t_score, "t_total_s": t_total,
        "cutouts_per_s": int(scored.sum()) / t_score if t_score > 0 else float("nan"),
        **inputs.summary(),
    })
    return CatalogResult(table=table, truth=counts, summary=summary)
