"""``skysieve catalog`` for registered cluster detectors: options, the model's catalog config, the catalog itself."""

import inspect
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["CATALOG_HELP", "catalog_options", "catalog_tags", "field_options", "load_catalog_model", "make_catalog",
           "survey_duplicates"]

CATALOG_HELP = ("--optical-images with one FITS image per band (g, r, i: FILTER keyword, celestial WCS, one pixel "
                "grid, nanomaggies) of any size: the model scans it in overlapping windows (--overlap-px model "
                "pixels) and merges detections closer than --nms-arcsec on the sky. NaN pixels are masked (masked "
                "area in the header). One row per cluster candidate: ra, dec, score, is_cluster, x_px, y_px, box "
                "size. A survey field (--fields) is a directory holding one FITS image per band.")

_PREFIX = "detect."


def catalog_options() -> tuple[inspect.Parameter, ...]:
    """The options of ``skysieve catalog`` a cluster detector reads."""
    kw = inspect.Parameter.KEYWORD_ONLY
    return (
        inspect.Parameter("optical_images", kw, default=None, annotation=Annotated[list[Path] | None, typer.Option(
            help="detect: one FITS image per band (FILTER, celestial WCS), any size: --optical-images g.fits "
                 "--optical-images r.fits --optical-images i.fits")]),
        inspect.Parameter("overlap_px", kw, default=None, annotation=Annotated[int | None, typer.Option(
            help="detect: overlap of neighbouring windows in model pixels (default: a quarter window)")]),
        inspect.Parameter("nms_arcsec", kw, default=None, annotation=Annotated[float | None, typer.Option(
            help="detect: detections closer than this on the sky are one cluster (default: the model's, 100 kpc "
                 "at z = 0.1)")]),
    )


def catalog_tags(params, manifest: Mapping[str, Any]) -> dict[str, str]:
    """The version tags a detector's catalog needs: bands, pixel scale, stretch, window, stride, merging, TTA."""
    from skysieve.tasks.detect.report import nms_radius_arcsec

    s, c, e = params.simulate_detect, params.cutouts_detect, params.evaluate_detect
    return {f"{_PREFIX}bands": ",".join(str(b) for b in manifest["channels"]),
            f"{_PREFIX}pixel_arcsec": repr(s.native_pixel_arcsec * s.bin),
            f"{_PREFIX}window_px": str(int(manifest["input_shape"][0])),
            f"{_PREFIX}stride": str(c.output_stride), f"{_PREFIX}stretch": c.stretch,
            f"{_PREFIX}softening": repr(c.asinh_softening), f"{_PREFIX}min_score": repr(e.min_score),
            f"{_PREFIX}max_per_window": str(e.max_detections), f"{_PREFIX}tta": str(bool(e.tta)).lower(),
            f"{_PREFIX}nms_arcsec": repr(round(nms_radius_arcsec(e, cosmo=params.cosmology), 2))}


def field_options(directory: Path) -> dict[str, Any]:
    """One survey field: every ``*.fits`` in ``directory`` is a band image (told apart by FILTER)."""
    from skysieve.errors import DataError

    files = sorted(Path(directory).glob("*.fits"))
    if not files:
        raise DataError(f"{directory}: no *.fits band images; a detect field is a directory of one image per band")
    return {"optical_images": files, "overlap_px": None, "nms_arcsec": None, "extra": []}


def load_catalog_model(ref: Any) -> Any:
    """The fold models of the registered detector, loaded once."""
    from skysieve.catalog import load_pyfunc

    return load_pyfunc(f"models:/{ref.name}/{ref.version}", "cluster detector").ensemble.models


def survey_duplicates(table: Any) -> tuple[Any, float]:
    """Rows of overlapping fields closer than 1′ are one cluster; the highest score is kept."""
    import numpy as np

    return np.asarray(table["score"], float), 1.0


def make_catalog(ref: Any, *, out: Path, options: Mapping[str, Any], given: frozenset[str], truth: Path | None,
                 batch_size: int, progress: bool, echo: Callable[[str], None], model: Any = None) -> None:
    """Detect clusters in ``--optical-images`` with ``ref`` and write the catalog atomically."""
    from skysieve.catalog import CatalogResult, code_version, file_sha256, progress_bars, write_catalog
    from skysieve.errors import ConfigError, DataError
    from skysieve.tasks.detect._fits import read_bands
    from skysieve.tasks.detect.survey import detect_image

    tags = ref.tags
    missing = [k for k in ("bands", "pixel_arcsec", "window_px", "stride", "stretch") if _PREFIX + k not in tags]
    if missing:
        raise ConfigError(f"{ref.where} lacks the detect catalog tags {missing}; re-register it with "
                          "`skysieve register detect`")
    images = [*(options.get("optical_images") or []), *options.get("extra", [])]
    if not images:
        raise ConfigError(f"{ref.where} is a cluster detector: give --optical-images g.fits --optical-images r.fits "
                          "--optical-images i.fits")
    if truth is not None:
        raise ConfigError("--truth is not supported for detect catalogs; score against truth with "
                          "`skysieve evaluate detect` or `skysieve inject detect`")
    bands = tuple(tags[_PREFIX + "bands"].split(","))
    imgs = read_bands(images, bands=bands)
    t0 = time.perf_counter()
    models = load_catalog_model(ref) if model is None else model
    window = int(tags[_PREFIX + "window_px"])
    overlap = window // 4 if options.get("overlap_px") is None else int(options["overlap_px"])
    nms = float(options.get("nms_arcsec") or tags.get(_PREFIX + "nms_arcsec", 60.0))
    threshold = float(tags["threshold.cnn"])
    tta = tags.get(_PREFIX + "tta", "false") == "true"  # versions registered before the tag: one orientation
    with progress_bars(progress) as add:
        result = detect_image(imgs.data, imgs.wcs, pixel_arcsec=imgs.pixel_arcsec, models=models, window_px=window,
                              model_arcsec=float(tags[_PREFIX + "pixel_arcsec"]),
                              stride=int(tags[_PREFIX + "stride"]), stretch_kind=tags[_PREFIX + "stretch"],
                              softening=float(tags.get(_PREFIX + "softening", 3.0)),
                              min_score=float(tags.get(_PREFIX + "min_score", 0.02)),
                              max_per_window=int(tags.get(_PREFIX + "max_per_window", 20)), overlap_px=overlap,
                              nms_arcsec=nms, batch_size=max(1, min(batch_size, 64)),
                              tta=tta,
                              progress=add("windows", None))
    if result.n_windows == 0:
        raise DataError(f"{imgs.paths[0]}: every window is masked (NaN); nothing to search, no catalog written")
    table = result.table
    table["is_cluster"] = table["score"] >= threshold
    code = code_version()
    table.meta.update({
        "ORIGIN": "skysieve catalog", "DATE": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "TASK": "detect",
        "MODEL": ref.name, "MODELVER": ref.version, "MODALIAS": ref.alias or "", "MODELURI": ref.uri,
        "RUNID": ref.run_id, "MODGIT": tags.get("git_commit", "unknown"), "DATAHASH": tags.get("data_hash", "unknown"),
        "THR_CNN": threshold, "SKYSVER": code["skysieve"], "GITCOMM": code["git_commit"],
        "GITDIRTY": code["git_dirty"], "PIX_ASEC": imgs.pixel_arcsec, "WIN_PX": window, "OVERLAP": overlap,
        "NMS_ASEC": nms, "TTA": tta,
        "NWIN": result.n_windows, "NSKIP": result.n_skipped, "AREADEG2": result.area_deg2,
        "MASKDEG2": result.masked_deg2, "NCAND": result.n_candidates,
    })
    for i, (band, path) in enumerate(zip(imgs.bands, imgs.paths, strict=True), start=1):
        table.meta[f"BAND{i}"] = band
        table.meta[f"IMG{i}"] = path.name[-68:]
        table.meta[f"IMG{i}SHA"] = file_sha256(path)[:64]
    summary = {"n_rows": len(table), "n_clusters": int(table["is_cluster"].sum()), "n_windows": result.n_windows,
               "n_skipped": result.n_skipped, "area_deg2": result.area_deg2, "masked_deg2": result.masked_deg2,
               "t_total_s": time.perf_counter() - t0}
    write_catalog(CatalogResult(table=table, summary=summary), out)
    echo(f"wrote {out}: {summary['n_rows']} detections, {summary['n_clusters']} clusters (score ≥ {threshold:g}) "
         f"from {result.n_windows} windows ({result.n_skipped} fully masked, skipped); area "
         f"{result.area_deg2 * 3600:.1f} arcmin², masked {result.masked_deg2 * 3600:.2f} arcmin² "
         f"[{ref.name} v{ref.version}]")
