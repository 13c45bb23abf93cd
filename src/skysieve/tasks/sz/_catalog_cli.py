"""How new FITS maps become inputs of a registered SZ ensemble: ``skysieve catalog`` options and their use."""

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["CATALOG_HELP", "catalog_options", "field_options", "load_catalog_model", "make_catalog", "survey_duplicates"]

CATALOG_HELP = ("--maps takes one FITS map per band (FREQ, BUNIT uK_CMB, celestial WCS). Runs the matched filter "
                "with point-source detection, scores overlapping tiles with the CNN, combines them with the model's "
                "thresholds and merges the tiles of one object. --truth: a halo catalog. A survey field (--fields) "
                "is a directory holding one FITS map per band (*.fits) and, optionally, one weight map per band "
                "(weight_*.fits, ivar_*.fits or BUNIT uK^-2, paired with its band by FREQ). Survey maps: NaN outside "
                "the footprint, optional --weights (one inverse-variance map per band, in the order of --maps, given "
                "after them); candidates within --edge-margin-arcmin of the footprint edge are flagged and decide "
                "nothing.")


def catalog_options() -> tuple[inspect.Parameter, ...]:
    """The options of ``skysieve catalog`` an SZ ensemble reads."""
    kw = inspect.Parameter.KEYWORD_ONLY
    return (
        inspect.Parameter("maps", kw, default=None, annotation=Annotated[list[Path] | None, typer.Option(
            help="SZ: one FITS map per band: --maps 90.fits 148.fits 219.fits")]),
        inspect.Parameter("stride_arcmin", kw, default=None, annotation=Annotated[float | None, typer.Option(
            help="SZ: tile stride (default: half the central size, so every object is near some tile centre)")]),
        inspect.Parameter("match_radius_arcmin", kw, default=1.0, annotation=Annotated[float, typer.Option(
            help="SZ: candidate-truth matching radius")]),
        inspect.Parameter("merge_radius_arcmin", kw, default=None, annotation=Annotated[float | None, typer.Option(
            help="SZ: merge positive tiles of one object within this radius (default: the central size)")]),
        inspect.Parameter("mf_block_px", kw, default=2048, annotation=Annotated[int, typer.Option(
            help="SZ: maps larger than this on a side go through the matched filter in blocks (memory)")]),
        inspect.Parameter("weights", kw, default=None, annotation=Annotated[list[Path] | None, typer.Option(
            help="SZ: one inverse-variance weight map per band, in the order of --maps (give --maps first)")]),
        inspect.Parameter("apod_arcmin", kw, default=5.0, annotation=Annotated[float, typer.Option(
            help="SZ: width of the cosine taper of the footprint edge before filtering")]),
        inspect.Parameter("edge_margin_arcmin", kw, default=10.0, annotation=Annotated[float, typer.Option(
            help="SZ: candidates closer than this to the footprint edge are flagged and decide nothing")]),
        inspect.Parameter("cl", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            help="SZ: CMB spectrum, only for a model whose MF noise model is 'model'")]),
    )


WEIGHT_PREFIXES = ("weight", "ivar")  # weight_148GHz.fits (skysieve), ivar_f150.fits (pixell / ACT naming)


def _is_weight_map(path: Path, header: Any) -> bool:
    """A file is an inverse-variance weight map if its name starts with ``weight``/``ivar`` or its ``BUNIT`` is an
    inverse squared temperature (``uK^-2``, ``1/uK2``)."""
    import astropy.units as u

    if path.name.lower().startswith(WEIGHT_PREFIXES):
        return True
    try:
        unit = u.Unit(str(header.get("BUNIT", "")).replace("uK_CMB", "uK"))
    except ValueError:
        return False
    return unit.is_equivalent(u.K ** -2)


def _image_header(path: Path) -> Any:
    """The header of the first HDU holding an image, or None for a file of tables only (a truth catalog)."""
    from astropy.io import fits

    from skysieve.errors import DataError

    try:
        with fits.open(path, memmap=True) as hdul:
            for hdu in hdul:
                if hdu.is_image and hdu.header.get("NAXIS", 0) >= 2:
                    return hdu.header.copy()
    except OSError as exc:
        raise DataError(f"{path}: not a readable FITS file ({exc})") from exc
    return None


def _freq(path: Path, header: Any) -> float:
    from skysieve.errors import DataError

    try:
        return float(header["FREQ"])
    except (KeyError, ValueError, TypeError):
        raise DataError(f"{path}: no FREQ (GHz) in the header; a weight map in a survey field is paired with its "
                        "band by FREQ, so give it the FREQ of its band") from None


def field_options(directory: Path) -> dict[str, Any]:
    """One survey field: ``directory`` holds one FITS map per band and, optionally, one weight map per band.

    Files are ``*.fits``, ``*.fits.gz`` or ``*.fit``. A weight map (inverse variance, as ``--weights``) is told
    from a band map by its name (``weight*`` or ``ivar*``) or its ``BUNIT`` (an inverse squared temperature), and
    paired with its band by ``FREQ``. Files holding only tables (a truth catalog beside the maps) are left out.

    Returns
    -------
    dict
        ``maps`` (band maps, sorted by name), ``extra`` (empty) and, when the field has weight maps, ``weights``
        in the order of ``maps``.

    Raises
    ------
    DataError
        The directory is missing or holds no band map; some bands have a weight map and others not; a weight
        map whose FREQ matches no band, or two for one band.
    """
    from skysieve.errors import DataError

    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: field directory not found")
    files = sorted(p for pattern in ("*.fits", "*.fits.gz", "*.fit") for p in directory.glob(pattern) if p.is_file())
    maps, weights = [], []
    for path in files:
        header = _image_header(path)
        if header is not None:
            (weights if _is_weight_map(path, header) else maps).append((path, header))
    if not maps:
        raise DataError(f"{directory}: no FITS map (*.fits) in the field; put one map per band there")
    if not weights:
        return {"maps": [p for p, _ in maps], "extra": []}
    by_freq: dict[float, Path] = {}
    for path, header in weights:
        f = _freq(path, header)
        if f in by_freq:
            raise DataError(f"{directory}: two weight maps for {f:g} GHz ({by_freq[f].name}, {path.name}); keep one "
                            "per band")
        by_freq[f] = path
    paired = [by_freq.pop(_freq(p, h), None) for p, h in maps]
    if by_freq:
        raise DataError(f"{directory}: weight map(s) {', '.join(p.name for p in by_freq.values())} match no band map "
                        f"by FREQ; the bands are {', '.join(f'{_freq(p, h):g} GHz' for p, h in maps)}")
    if None in paired:
        missing = [p.name for (p, _), w in zip(maps, paired) if w is None]
        raise DataError(f"{directory}: weight maps for some bands but none for {', '.join(missing)}; give every band "
                        "its weight map (weight_<band>.fits) or none")
    return {"maps": [p for p, _ in maps], "extra": [], "weights": paired}


def load_catalog_model(ref: Any) -> Any:
    """The registered ensemble with its CNN and catalog config, loaded once for many fields."""
    from skysieve.tasks.sz._catalog_model import load_catalog_model as load

    return load(ref.uri)


def survey_duplicates(table: Any) -> tuple[Any, float]:
    """Rows of overlapping fields within the merge radius (``MERGERAD``, the central size) are one cluster;
    the one with the highest rank product (then CNN probability) is kept."""
    import numpy as np

    score = np.asarray(table["rank_product"], float) + 1e-9 * np.asarray(table["cnn_prob"], float)
    return score, float(table.meta["MERGERAD"])


def make_catalog(ref: Any, *, out: Path, options: Mapping[str, Any], given: frozenset[str], truth: Path | None,
                 batch_size: int, progress: bool, echo: Callable[[str], None], model: Any = None) -> None:
    """Run the SZ ensemble ``ref`` over ``--maps`` and write the catalog (:meth:`skysieve.tasks.Search.make_catalog`).

    ``model``: the ensemble loaded by :func:`load_catalog_model` (survey fields), else it is loaded from ``ref``.
    """
    from astropy.table import Table

    from skysieve.catalog import write_catalog
    from skysieve.ensemble import METHODS
    from skysieve.errors import ConfigError, DataError
    from skysieve.tasks.sz.catalog import make_catalog as make_sz_catalog

    # --maps A B C: click hands B and C over as extra arguments
    map_paths = [*(options["maps"] or []), *(Path(a) for a in options["extra"])]
    weight_paths = list(options.get("weights") or [])
    if weight_paths and options["extra"]:  # --maps A B C --weights WA WB WC: B C WB WC came as extra arguments
        extra = [Path(a) for a in options["extra"]]
        total = len(options["maps"] or []) + len(weight_paths) + len(extra)
        if total % 2:
            raise ConfigError(f"--maps and --weights name {total} files in all; pass one weight map per band map, "
                              "in the order of --maps")
        n_maps = total // 2
        cut = max(n_maps - len(options["maps"] or []), 0)
        map_paths = [*(options["maps"] or []), *extra[:cut]]
        weight_paths = [*weight_paths, *extra[cut:]]
    if not map_paths:
        raise ConfigError(f"{ref.where} is an SZ ensemble: give --maps with one FITS map per band")
    cl = options["cl"]
    cmb_cl = None
    if cl is not None:
        if not cl.is_file():
            raise DataError(f"{cl}: CMB spectrum not found; run `skysieve simulate cmb-spectrum --out {cl}`")
        cmb_cl = Table.read(cl)
    result = make_sz_catalog(map_paths, model=ref.uri if model is None else model, truth=truth, stride_arcmin=options["stride_arcmin"],
                             match_radius_arcmin=options["match_radius_arcmin"],
                             merge_radius_arcmin=options["merge_radius_arcmin"], batch_size=batch_size,
                             mf_block_px=options["mf_block_px"], cmb_cl=cmb_cl, weights=weight_paths or None,
                             apod_arcmin=options["apod_arcmin"], edge_margin_arcmin=options["edge_margin_arcmin"],
                             progress=progress)
    write_catalog(result, out)
    s, meta = result.summary, result.table.meta
    by = ", ".join(f"{m} {s['n_candidates_by_method'][m]}" for m in METHODS)
    import mlflow

    from skysieve._urls import safe_url

    echo(f"wrote {out}: {s['n_candidates']} candidates ({by}) from {s['n_tiles']} tiles "
         f"({s['n_detections']} MF detections, {s['n_sources']} point sources) in {s['t_total_s']:.1f} s "
         f"[{meta['MODEL']} v{meta['MODELVER']}, {safe_url(mlflow.get_tracking_uri())}]")
    if not meta["PERIODIC"]:
        echo(f"footprint: {100 * meta['OBSFRAC']:.1f} % of the map observed; {s['n_edge_flagged']} candidates within "
             f"{meta['EDGEMARG']:g}′ of its edge flagged (edge_flag) and left out of the decisions")
    if result.truth is not None:
        echo(f"truth: {s['n_true']} objects within {options['match_radius_arcmin']}′ matching radius")
        from skysieve.evaluate import ratio_intervals

        echo(f"{'method':<14}{'purity':>8}{'complete':>10}{'F1':>8}{'TP':>6}{'FP':>6}{'FN':>6}")
        for m, c in result.truth.items():
            iv = ratio_intervals(c)
            echo(f"{m:<14}{c.purity:>8.3f}{c.completeness:>10.3f}{c.f1:>8.3f}{c.tp:>6}{c.fp:>6}{c.fn:>6}")
            echo(f"{'':<14}95 % (Wilson): purity {iv['purity'][0]:.2f}–{iv['purity'][1]:.2f}, "
                 f"completeness {iv['completeness'][0]:.2f}–{iv['completeness'][1]:.2f}")
