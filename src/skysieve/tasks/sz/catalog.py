"""``make_catalog``: from new FITS maps and a registered model to a candidate catalog.

Order of work (every check comes before the first expensive step):

1. resolve the model URI in the registry and load the ensemble, its CNN and
   its catalog config (:func:`~skysieve.tasks.sz._catalog_model.load_catalog_model`);
2. read the maps (:func:`~skysieve.data.read_maps` checks FITS, WCS, shapes,
   ``FREQ``), check their bands against the CNN's channels and their pixel
   size against the model's, read and check the truth table;
3. matched filter with source detection, block by block
   (:func:`~skysieve.catalog.filter_tiles`);
4. stream the overlapping tiles through the CNN batch by batch; each tile's
   ``mf_snr`` comes from the MF; combine with the model's thresholds and
   stored reference distributions; keep only tiles that some method calls
   positive;
5. merge the tiles of one object (:func:`~skysieve.catalog.merge_tiles`);
6. measure each candidate's distance to the footprint edge, drop any outside
   it, flag those within the edge margin and take them out of the decisions;
7. optionally match to a truth catalog.

Survey maps with a footprint (NaN or weight 0 outside, optional weight maps)
are read as such (:mod:`skysieve.data.footprint`): the matched filter works
on whitened, apodized maps with scan stripes modelled, and the CNN on the
same maps destriped (:func:`~skysieve.tasks.sz._catalog_footprint.cnn_input`):
noise at the map's median depth and isotropic, as the model was trained on
(unscaled, the CNN's false positives crowd the shallow parts), zero outside
the footprint; only tiles whose central region holds an observed pixel are
scored.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
from astropy.table import Table

from skysieve.catalog import (
    CatalogResult,
    TileGrid,
    check_truth,
    code_version,
    file_sha256,
    iter_tile_batches,
    match_one_to_one,
    merge_tiles,
    progress_bars,
    select_truth,
    tile_grid,
    truth_counts,
)
from skysieve.data.footprint import Footprint, make_footprint, read_weights
from skysieve.data.maps import SkyMaps, read_maps
from skysieve.ensemble import METHODS
from skysieve.errors import ConfigError, DataError
from skysieve.tasks.sz._catalog_footprint import cnn_input, edge_columns, observed_tiles
from skysieve.tasks.sz._catalog_mf import TileMf, filter_tiles, map_blocks
from skysieve.tasks.sz._catalog_model import CatalogModel, load_catalog_model

__all__ = ["make_catalog"]

#: Header keyword of each threshold.
THRESHOLD_KEYS = {"mf": "THR_MF", "cnn": "THR_CNN", "and.cnn": "THR_ANDC", "and.mf": "THR_ANDM",
                  "rank_product": "THR_RP"}


def _match_bands(maps: SkyMaps, model: CatalogModel) -> SkyMaps:
    channels = model.channels
    have = list(maps.bands)
    if sorted(have) != sorted(channels):
        files = ", ".join(f"{p} ({b})" for p, b in zip(maps.paths, have))
        raise DataError(f"maps {files} have bands {have} but model '{model.name}' v{model.version} was trained on "
                        f"{list(channels)}; pass exactly one map per band ({', '.join(channels)})")
    if have == list(channels):
        return maps
    order = [have.index(c) for c in channels]
    return SkyMaps(data=maps.data[order], wcs=maps.wcs, bands=tuple(channels),
                   freqs_ghz=tuple(maps.freqs_ghz[i] for i in order) if maps.freqs_ghz else None,
                   unit=maps.unit, paths=tuple(maps.paths[i] for i in order))


def _check_pixels(maps: SkyMaps, model: CatalogModel) -> None:
    want = model.config.pixel_arcmin
    if abs(maps.pixel_arcmin - want) > 1e-3 * want:
        raise DataError(f"{maps.paths[0]}: pixels of {maps.pixel_arcmin:.4g}′ but model '{model.name}' "
                        f"v{model.version} was trained on {want:g}′ pixels; reproject the maps to {want:g}′")
    if maps.unit and maps.unit.replace(" ", "").lower() not in {"uk_cmb", "uk", "microk", "ukcmb"}:
        raise DataError(f"{maps.paths[0]}: BUNIT = {maps.unit!r}; the model takes µK_CMB maps (BUNIT = 'uK_CMB')")


def _read_truth(truth: Table | str | Path | None, model: CatalogModel) -> Table | None:
    if truth is None:
        return None
    if isinstance(truth, Table):
        return check_truth(truth, positive=model.config.positive)
    path = Path(truth)
    if not path.is_file():
        raise DataError(f"{path}: truth catalog not found")
    try:
        table = Table.read(path)
    except Exception as exc:  # astropy raises many kinds on damaged files
        raise DataError(f"{path}: unreadable truth catalog ({exc.__class__.__name__}: {exc})") from exc
    return check_truth(table, positive=model.config.positive, name=str(path))


def _stride_px(stride_arcmin: float | None, maps: SkyMaps, model: CatalogModel) -> int:
    central = model.config.central_px
    if stride_arcmin is None:
        return max(central // 2, 1)
    if not stride_arcmin > 0:
        raise ConfigError(f"--stride-arcmin must be > 0 (got {stride_arcmin})")
    px = round(stride_arcmin / maps.pixel_arcmin)
    if px < 1 or px > central:
        raise ConfigError(f"--stride-arcmin {stride_arcmin} is {px} px; it must be between one pixel and the central "
                          f"size {model.config.central_arcmin}′ ({central} px) so every object is central in some tile")
    return px


def _n_blocks(maps: SkyMaps, block_px: int, margin_px: int) -> int:
    return len(map_blocks(tuple(maps.data.shape[-2:]), block_px=block_px, margin_px=margin_px))


@dataclass
class _Kept:
    """The tiles some method called positive (small: no pixels)."""

    ids: list = field(default_factory=list)
    cnn: list = field(default_factory=list)
    mf: list = field(default_factory=list)
    det: list = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, ...]:
        cat = [np.concatenate(v) if v else np.zeros(0) for v in (self.ids, self.cnn, self.mf, self.det)]
        return cat[0].astype(np.int64), cat[1], cat[2], cat[3].astype(np.int64)


def _score_tiles(data: np.ndarray, grid: TileGrid, mf: TileMf, model: CatalogModel, *, batch_size: int,
                 ids: np.ndarray | None, advance: Callable[[int], None]) -> tuple[_Kept, dict[str, int]]:
    kept = _Kept()
    n_pos = dict.fromkeys(METHODS, 0)
    for batch in iter_tile_batches(data, grid, batch_size=batch_size, ids=ids):
        prob = model.cnn.predict_proba(batch.images)
        snr, det = mf.tile_snr(batch.ids)
        decisions = model.ensembles.decide(prob, snr)
        any_positive = np.zeros(batch.ids.size, dtype=bool)
        for m, d in decisions.items():
            n_pos[m] += int(d.sum())
            any_positive |= d
        for store, values in ((kept.ids, batch.ids), (kept.cnn, prob), (kept.mf, snr), (kept.det, det)):
            store.append(values[any_positive])
        advance(batch.ids.size)
    return kept, n_pos


def _with_extra(ids: np.ndarray, cnn: np.ndarray, snr: np.ndarray, det: np.ndarray, *, mf: TileMf,
                model: CatalogModel) -> tuple[np.ndarray, ...]:
    """The kept tiles, and a row for each further detection in a kept tile's central region.

    A tile scores its best detection; a second cluster in its central region
    (another detection, e.g. one deblended from a brighter neighbour's wing,
    ``docs/matched_filter.md``) that is no tile's best — so no row holds it —
    gets a row of its own: the tile's CNN probability with the detection's
    SNR, kept if some method calls that positive.  Two detections are never
    merged (:func:`merge_tiles`), so it becomes a candidate of its own.  A
    detection that is some tile's best is left to that tile's own scores (it
    borrows no other tile's CNN probability).
    """
    if mf.extra.size == 0 or ids.size == 0:
        return ids, cnn, snr, det
    where = {int(t): k for k, t in enumerate(ids.tolist())}
    held = set(np.unique(mf.best_detection).tolist())
    rows = [(where[t], d) for t, d in mf.extra.tolist() if t in where and d not in held]
    if not rows:
        return ids, cnn, snr, det
    at, d = (np.asarray(v, np.int64) for v in zip(*rows, strict=True))
    e_snr = np.asarray(mf.detections["snr"], float)[d]
    decisions = model.ensembles.decide(cnn[at], e_snr)
    keep = np.zeros(at.size, dtype=bool)
    for v in decisions.values():
        keep |= np.asarray(v, bool)
    at, d, e_snr = at[keep], d[keep], e_snr[keep]
    return (np.concatenate([ids, ids[at]]), np.concatenate([cnn, cnn[at]]), np.concatenate([snr, e_snr]),
            np.concatenate([det, d]))


def _candidates(kept: _Kept, *, grid: TileGrid, maps: SkyMaps, mf: TileMf, model: CatalogModel,
                merge_radius_arcmin: float) -> Table:
    ids, cnn, snr, det = _with_extra(*kept.arrays(), mf=mf, model=model)
    wcs = maps.wcs.celestial
    xc, yc = grid.centres(ids)
    x, y = xc.astype(float), yc.astype(float)
    has = det >= 0
    if has.any():
        x[has] = np.asarray(mf.detections["x"], float)[det[has]]
        y[has] = np.asarray(mf.detections["y"], float)[det[has]]
    ra, dec = (np.asarray(v, float) for v in wcs.pixel_to_world_values(x, y)) if ids.size else (x, y)
    rp = model.ensembles.predict_columns(cnn, snr)["rank_product"] if ids.size else np.zeros(0)
    groups = merge_tiles(ra % 360.0, dec, score=rp, detection=det, radius_arcmin=merge_radius_arcmin, tiebreak=cnn)
    n = len(groups)
    cx, cy = np.empty(n), np.empty(n)
    cnn_max, snr_max = np.empty(n), np.empty(n)
    seed, n_tiles, cdet = np.empty(n, np.int64), np.empty(n, np.int64), np.full(n, -1, np.int64)
    for k, g in enumerate(groups):
        seed[k], n_tiles[k] = ids[g[0]], g.size
        cnn_max[k], snr_max[k] = cnn[g].max(), snr[g].max()
        dets = det[g][det[g] >= 0]
        if dets.size:  # the MF position
            cdet[k] = dets[0]
            cx[k], cy[k] = x[g][det[g] >= 0][0], y[g][det[g] >= 0][0]
        else:  # the CNN-weighted mean of the tile centres
            w = cnn[g] + 1e-12
            cx[k], cy[k] = np.average(xc[g], weights=w), np.average(yc[g], weights=w)
    cra, cdec = (np.asarray(v, float) for v in wcs.pixel_to_world_values(cx, cy)) if n else (cx, cy)
    cols = model.ensembles.predict_columns(cnn_max, snr_max)
    detections = mf.detections
    table = Table()
    table["ra"] = cra % 360.0
    table["dec"] = cdec
    table["cnn_prob"] = cols["cnn_prob"]
    table["mf_snr"] = cols["mf_snr"]
    table["q_cnn"] = cols["q_cnn"]
    table["q_mf"] = cols["q_mf"]
    table["rank_product"] = cols["rank_product"]
    for m in METHODS:
        table[f"decision_{m}"] = np.asarray(cols[f"decision_{m}"], dtype=bool)
    table["tile_id"] = seed
    tx0, ty0 = grid.corners(seed)
    table["tile_x0"], table["tile_y0"] = tx0.astype(np.int64), ty0.astype(np.int64)
    table["n_tiles"] = n_tiles
    table["x"], table["y"] = cx, cy
    table["mf_detected"] = cdet >= 0
    pick = np.maximum(cdet, 0)
    for col, out in (("theta_c_arcmin", "mf_theta_c_arcmin"), ("y_arcmin2", "mf_y_arcmin2")):
        values = np.asarray(detections[col], float)[pick] if len(detections) else np.zeros(n)
        table[out] = np.where(cdet >= 0, values, np.nan)
    order = np.lexsort((-table["cnn_prob"], -table["rank_product"])) if n else np.zeros(0, np.int64)
    table = table[order]
    table.add_column(np.arange(n, dtype=np.int64), name="id", index=0)
    for col, unit in (("ra", "deg"), ("dec", "deg"), ("x", "pix"), ("y", "pix"), ("tile_x0", "pix"),
                      ("tile_y0", "pix"), ("mf_theta_c_arcmin", "arcmin"), ("mf_y_arcmin2", "arcmin2")):
        table[col].unit = unit
    return table


def _header(model: CatalogModel, maps: SkyMaps, checksums: list[str], grid: TileGrid, *, merge_radius_arcmin: float,
            mf: TileMf, n_candidates: int, footprint: Footprint, weights: list[tuple[str, str]],
            apod_arcmin: float, edge_margin_arcmin: float, scan_noise: bool) -> dict[str, Any]:
    code = code_version()
    meta: dict[str, Any] = {
        "ORIGIN": "skysieve catalog",
        "DATE": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "TASK": "sz",
        "MODEL": model.name,
        "MODELVER": model.version,
        "MODALIAS": model.alias or "",
        "MODELURI": model.uri,
        "RUNID": model.run_id,
        "CNNURI": model.cnn_uri,
        "MODGIT": model.tags.get("git_commit", "unknown"),
        "DATAHASH": model.tags.get("data_hash", "unknown"),
    }
    for key, value in model.thresholds.items():
        meta[THRESHOLD_KEYS.get(key, key.upper()[:8])] = float(value)
    meta["NMAPS"] = len(maps.paths)
    for i, (path, band, digest) in enumerate(zip(maps.paths, maps.bands, checksums), start=1):
        meta[f"MAP{i}"] = Path(path).name
        meta[f"BAND{i}"] = band
        meta[f"SHA256_{i}"] = digest
    meta.update({
        "SKYSVER": code["skysieve"], "GITCOMM": code["git_commit"], "GITDIRTY": code["git_dirty"],
        "TILE_PX": grid.size_px, "CENT_PX": grid.central_px, "STRIDEPX": grid.stride_px,
        "PIXAMIN": round(float(maps.pixel_arcmin), 9), "NTILES": grid.n, "MERGERAD": float(merge_radius_arcmin),
        "MFBLOCKS": mf.n_blocks, "NDETECT": len(mf.detections), "NSOURCES": len(mf.sources),
        "NCAND": n_candidates,
        "OBSFRAC": round(footprint.fraction, 6), "PERIODIC": footprint.periodic,
        "APODAMIN": float(apod_arcmin), "EDGEMARG": float(edge_margin_arcmin), "SCANNOIS": scan_noise,
    })
    for i, (name, digest) in enumerate(weights, start=1):
        meta[f"WGT{i}"] = name
        meta[f"WSHA_{i}"] = digest  # FITS keywords are ≤ 8 characters
    return meta


def make_catalog(maps: Sequence[str | Path], *, model: str | CatalogModel, truth: Table | str | Path | None = None,
                 stride_arcmin: float | None = None, match_radius_arcmin: float = 1.0,
                 merge_radius_arcmin: float | None = None, batch_size: int = 512, mf_block_px: int = 2048,
                 mf_margin_arcmin: float = 16.0, cmb_cl: Table | None = None,
                 weights: Sequence[str | Path] | None = None, apod_arcmin: float = 5.0,
                 edge_margin_arcmin: float = 10.0, scan_noise: bool | None = None,
                 progress: bool = False) -> CatalogResult:
    """Run a registered model over new maps and return the merged candidate catalog.

    Parameters
    ----------
    maps : sequence of path
        One FITS map per band (any order), µK_CMB, the map contract of
        DESIGN.md; NaN marks unobserved pixels (the footprint).
    model : str or CatalogModel, keyword-only
        ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` of a registered
        ensemble, or one already loaded with :func:`load_catalog_model`.
    truth : Table or path, keyword-only, optional
        Halo catalog (``ra``, ``dec``, ``z``, the model's mass column): adds
        ``truth_id`` / ``truth_sep_arcmin`` and purity, completeness and F1 per
        method (:attr:`CatalogResult.truth`).
    stride_arcmin : float, keyword-only, optional
        Tile stride; default half the central size (3′ for 6′), so every
        object lies within a quarter of the central size of some tile centre
        along each axis.
    match_radius_arcmin : float, keyword-only
        Candidate–truth matching radius (1′).
    merge_radius_arcmin : float, keyword-only, optional
        Tiles of one object are merged within this radius; default the
        central size.
    batch_size : int, keyword-only
        Tiles per CNN forward pass.
    mf_block_px : int, keyword-only
        Maps larger than this on a side are filtered in blocks of at most
        this size (2048: the default 1800² patch is filtered whole, as by the
        ``mf_sz`` stage; larger fields in blocks, so memory stays flat).
    mf_margin_arcmin : float, keyword-only
        Overlap of the blocks beyond their kept inner regions.
    cmb_cl : Table, keyword-only, optional
        CMB spectrum, needed only by a model whose ``mf_sz.noise_model`` is ``model``.
    weights : sequence of path, keyword-only, optional
        One inverse-variance weight map per band, in the order of ``maps``,
        each on its band's pixel grid (:func:`~skysieve.data.footprint.read_weights`);
        weight 0 is unobserved, and the matched filter whitens by √weight.
    apod_arcmin : float, keyword-only
        Width of the cosine taper of the footprint's edge (5′).
    edge_margin_arcmin : float, keyword-only
        Candidates closer than this to the footprint edge are flagged
        (``edge_flag``) and decide nothing (10′); true objects closer than
        this do not count.  Ignored on periodic maps (no blank pixel).
    scan_noise : bool, keyword-only, optional
        Let the matched filter model scan-direction (1/f) stripes, weighting
        each Fourier mode by its own noise (:class:`~skysieve.mf.ScanNoise`);
        default: on for survey maps (with a footprint), off for periodic ones.
    progress : bool, keyword-only
        Show a progress bar on stderr.

    Returns
    -------
    CatalogResult

    Raises
    ------
    RegistryError
        The model URI does not resolve, or the version lacks its CNN or catalog config.
    DataError
        Unreadable or inconsistent maps (WCS, shapes, ``FREQ``), a map with no
        finite pixel, weight maps off their band's grid or a footprint with
        no valid pixel, bands other than the model's channels, another pixel
        size, a bad truth table.
    ConfigError
        Options out of range.
    """
    t_start = perf_counter()
    cm = model if isinstance(model, CatalogModel) else load_catalog_model(model)
    cfg = cm.config
    if not match_radius_arcmin > 0:
        raise ConfigError(f"--match-radius-arcmin must be > 0 (got {match_radius_arcmin})")
    if merge_radius_arcmin is not None and not merge_radius_arcmin > 0:
        raise ConfigError(f"--merge-radius-arcmin must be > 0 (got {merge_radius_arcmin})")
    if not mf_margin_arcmin >= 0:
        raise ConfigError(f"mf_margin_arcmin must be >= 0 (got {mf_margin_arcmin})")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1 (got {batch_size})")
    if not apod_arcmin >= 0:
        raise ConfigError(f"--apod-arcmin must be >= 0 (got {apod_arcmin})")
    if not edge_margin_arcmin >= 0:
        raise ConfigError(f"--edge-margin-arcmin must be >= 0 (got {edge_margin_arcmin})")
    if cfg.mf.noise_model == "model" and cmb_cl is None:
        raise ConfigError(f"model '{cm.name}' v{cm.version} filters with mf_sz.noise_model = 'model', which needs the "
                          "CMB spectrum: pass cmb_cl (skysieve catalog --cl data/sz/cmb_cl.fits)")
    given = read_maps(list(maps), allow_nan=True)
    weight_maps = read_weights(list(weights), given) if weights else None
    sky = _match_bands(given, cm)
    order = [list(given.bands).index(b) for b in sky.bands]
    if weight_maps is not None:  # into the model's channel order, as the maps
        weight_maps = weight_maps[order]
    _check_pixels(sky, cm)
    footprint = make_footprint(sky, weights=weight_maps, apod_arcmin=apod_arcmin)
    scan = (not footprint.periodic) if scan_noise is None else bool(scan_noise)
    weight_files = [(Path(weights[i]).name, file_sha256(weights[i])) for i in order] if weights else []
    truth_table = _read_truth(truth, cm)
    stride_px = _stride_px(stride_arcmin, sky, cm)
    grid = tile_grid(sky.data.shape[-2:], size_px=cfg.size_px, central_px=cfg.central_px, stride_px=stride_px)
    merge_radius = float(merge_radius_arcmin or cfg.central_arcmin)
    margin_px = round(mf_margin_arcmin / sky.pixel_arcmin)
    checksums = [file_sha256(p) for p in sky.paths]

    with progress_bars(progress) as add:
        t0 = perf_counter()
        mf = filter_tiles(sky, grid, config=cfg, block_px=mf_block_px, margin_px=margin_px, cmb_cl=cmb_cl,
                          footprint=footprint, scan_noise=scan,
                          on_block=add("matched filter (blocks)", _n_blocks(sky, mf_block_px, margin_px)))
        t_mf = perf_counter() - t0
        t0 = perf_counter()
        scored = observed_tiles(grid, footprint)
        n_scored = grid.n if scored is None else int(scored.size)
        tiles_from = cnn_input(sky, footprint, scan_noise=scan, ell_bin_width=cfg.mf.ell_bin_width,
                               smooth_fraction=cfg.mf.smooth_fraction, max_px=mf_block_px)
        kept, n_pos = _score_tiles(tiles_from, grid, mf, cm, batch_size=batch_size, ids=scored,
                                   advance=add("scoring tiles", n_scored))
        del tiles_from
        t_score = perf_counter() - t0
    table = _candidates(kept, grid=grid, maps=sky, mf=mf, model=cm, merge_radius_arcmin=merge_radius)
    table = edge_columns(table, footprint, margin_arcmin=edge_margin_arcmin)
    table.meta.update(_header(cm, sky, checksums, grid, merge_radius_arcmin=merge_radius, mf=mf,
                              n_candidates=len(table), footprint=footprint, weights=weight_files,
                              apod_arcmin=apod_arcmin, edge_margin_arcmin=edge_margin_arcmin, scan_noise=scan))

    counts = None
    if truth_table is not None:
        def in_footprint(ra, dec):
            x, y = (np.asarray(v, float) for v in sky.wcs.celestial.world_to_pixel_values(ra, dec))
            return grid.in_footprint(x, y) & (footprint.edge_distance_arcmin(x, y) >= edge_margin_arcmin)

        true = select_truth(truth_table, positive=cfg.positive, in_footprint=in_footprint)
        counts = {m: truth_counts(table["ra"], table["dec"], table[f"decision_{m}"], true,
                                  radius_arcmin=match_radius_arcmin) for m in METHODS}
        index, sep = match_one_to_one(table["ra"], table["dec"], np.asarray(true["ra"], float),
                                      np.asarray(true["dec"], float), radius_arcmin=match_radius_arcmin)
        ids = np.asarray(true["halo_id"], np.int64)
        table["truth_id"] = np.where(index >= 0, ids[np.maximum(index, 0)] if ids.size else -1, -1)
        table["truth_sep_arcmin"] = sep
        table["truth_sep_arcmin"].unit = "arcmin"
        table.meta.update({"MATCHRAD": float(match_radius_arcmin), "NTRUE": len(true)})
    t_total = perf_counter() - t_start
    summary = {
        "n_tiles": grid.n, "n_tiles_scored": n_scored, "n_candidates": len(table), "n_positive_tiles": n_pos,
        "n_edge_flagged": int(np.count_nonzero(table["edge_flag"])), "observed_fraction": footprint.fraction,
        "n_candidates_by_method": {m: int(np.count_nonzero(table[f"decision_{m}"])) for m in METHODS},
        "n_detections": len(mf.detections), "n_sources": len(mf.sources), "n_sources_treated": mf.n_sources_treated,
        "n_blocks": mf.n_blocks, "stride_px": grid.stride_px, "merge_radius_arcmin": merge_radius,
        "t_mf_s": t_mf, "t_score_s": t_score, "t_total_s": t_total,
        "tiles_per_s": grid.n / t_total if t_total > 0 else float("nan"),
    }
    if counts is not None:
        summary["n_true"] = counts["mf"].tp + counts["mf"].fn
    return CatalogResult(table=table, truth=counts, summary=summary)
