"""Membership catalogs for new multi-band images with a registered members classifier (``skysieve catalog``).

Two inputs.  **Large images + positions** (:func:`make_members_catalog_at_positions`):
one FITS image per band with its own celestial WCS, and a table of ``ra``,
``dec`` (deg) and an optional ``id``; each position is cut out of every band
by the engine (:func:`skysieve.catalog.open_positions`, as for lenses).
Bands other than the model's, another pixel scale or a ``BUNIT`` not
convertible to the model's are errors naming the file; a position whose
cutout is not inside every image is flagged (``flag_edge``, ``off_image``,
flag 4) and not scored; no scorable position → an error, nothing written.

**A directory of cutouts** (:func:`make_members_catalog`): a directory of FITS files, one per source, each with one image HDU
per band identified by its ``FILTER`` keyword (``BUNIT`` ``electron/s``,
pixel scale from the WCS ``CD``/``CDELT`` or ``PIXSCALE``, the source's
``RA``/``DEC`` from the header's ``RA_OBJ``/``DEC_OBJ`` or the WCS reference
point).  A file with the wrong pixel scale, BUNIT or cutout size is an
error naming the file (the model would see other pixels than it learnt);
a source lacking one of the model's bands, or with NaN pixels, is skipped
and counted (the paper drops such sources, §2) with its flag set.  Nothing
usable → an error, and no catalog is written.
"""

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from skysieve.errors import DataError, RegistryError
from skysieve.tasks.members._catalog_config import CATALOG_CONFIG_DOCUMENT

__all__ = ["MembersCatalogModel", "cutout_spec", "load_members_catalog_model", "make_members_catalog",
           "make_members_catalog_at_positions", "read_member_cutout"]

FLAG_MISSING_BAND = 1
FLAG_NAN = 2
FLAG_EDGE = 4


@dataclass(frozen=True)
class MembersCatalogModel:
    """A loaded members classifier: the pyfunc CNN, its threshold and catalog config, and the version's name."""

    cnn: Any
    threshold: float
    config: dict
    name: str
    version: str
    operating_point: str
    ref: Any = None  # the resolved ModelRef, for the header's provenance


def _provenance(model: MembersCatalogModel) -> dict[str, Any]:
    """The header's provenance keywords (:func:`skysieve.catalog.model_header`), and ``CODEVER`` as before."""
    from skysieve.catalog import ModelRef, model_header

    ref = model.ref or ModelRef(uri="", name=model.name, version=model.version, alias=None, run_id="")
    head = model_header(ref, task="members")
    return {**head, "CODEVER": head["SKYSVER"]}


def _model_meta(model: MembersCatalogModel) -> dict[str, Any]:
    """What every members catalog's header says of its model: provenance, threshold, operating point, bands, size."""
    return {**_provenance(model), "THR_CNN": model.threshold, "OPPOINT": model.operating_point[:60],
            "BANDCFG": model.config["band_config"], "BANDS": ",".join(model.config["bands"]),
            "SIZE_PX": int(model.config["size_px"])}


def load_members_catalog_model(ref) -> MembersCatalogModel:
    """Load a version registered by ``skysieve register members``.

    Raises
    ------
    RegistryError
        Not a members classifier, or no threshold or catalog config.
    """
    from skysieve.catalog import load_pyfunc

    if ref.task != "members":
        raise RegistryError(f"{ref.where} is not a members classifier "
                            f"(skysieve.task = {ref.tags.get('skysieve.task')!r})")
    config = ref.documents.get(CATALOG_CONFIG_DOCUMENT)
    if not config:
        raise RegistryError(f"{ref.where} lacks its '{CATALOG_CONFIG_DOCUMENT}' document; register it with "
                            "`skysieve register members`")
    try:
        threshold = float(ref.tags["threshold.cnn"])
    except (KeyError, ValueError):
        threshold = math.nan
    if not math.isfinite(threshold):
        raise RegistryError(f"{ref.where} has no valid 'threshold.cnn' tag; register it with "
                            "`skysieve register members`")
    cnn = load_pyfunc(f"models:/{ref.name}/{ref.version}", "members CNN")
    return MembersCatalogModel(cnn=cnn, threshold=threshold, config=config, name=ref.name, version=str(ref.version),
                               operating_point=ref.tags.get("operating_point", ""), ref=ref)


def _pixel_scale_arcsec(header) -> float | None:
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales

    if "PIXSCALE" in header:
        return float(header["PIXSCALE"])
    if "CTYPE1" in header:
        return float(np.mean(proj_plane_pixel_scales(WCS(header).celestial)) * 3600.0)
    return None


def _position(header) -> tuple[Any, Any]:
    """``RA_OBJ``/``DEC_OBJ`` of a header, else its ``CRVAL1``/``CRVAL2``; (None, None) without an RA."""
    ra = header.get("RA_OBJ", header.get("CRVAL1"))
    return (None, None) if ra is None else (ra, header.get("DEC_OBJ", header.get("CRVAL2")))


def read_member_cutout(path: Path, config: dict) -> tuple[np.ndarray | None, float, float, int]:
    """One cutout file → (image of shape (size, size, nbands) or None if a band is missing, ra, dec, flags).

    Each band is an image HDU whose ``FILTER`` names it (case-insensitive;
    ACS's ``FILTER1``/``FILTER2`` pair, one of them ``CLEAR…``, also works,
    and a file with one image may name it in the primary header);
    its ``BUNIT`` must convert to the model's unit (``electron/s``; HST's
    ``ELECTRONS/S``, ``electron/ks``… are converted, an empty ``BUNIT`` is
    taken as the model's) — :func:`skysieve.catalog._fits_checks.unit_factor`.

    Raises
    ------
    DataError
        Not FITS or damaged, no HDU of any of the model's bands, a band twice,
        wrong pixel scale, BUNIT or size, or no RA/Dec.
    """
    from skysieve.catalog._fits_checks import _filter_name, _image_headers, _open, unit_factor

    bands, size = list(config["bands"]), int(config["size_px"])
    scale, unit = float(config["pixel_scale_arcsec"]), str(config["unit"])
    with _open(path) as hdul:
        planes, ra, dec, found = {}, None, None, []
        images = [(index, h) for index, h in _image_headers(hdul) if h.get("NAXIS1") and h.get("NAXIS2")]
        for index, h in images:
            hdu = hdul[index]
            if ra is None:
                ra, dec = _position(h)
            # FILTER, or ACS's FILTER1/FILTER2; a lone image may carry it in the primary header
            band = _filter_name(h, hdul[0].header, bands, inherit=len(images) == 1)
            found.append(band or "?")
            if band not in bands:
                continue
            if band in planes:
                raise DataError(f"{path}: band {band} twice (two image HDUs name it in FILTER/FILTER1/FILTER2); "
                                "keep one image per band")
            where = f"{path}[{band}]"
            factor = unit_factor(h.get("BUNIT", ""), unit, where=where)
            px = _pixel_scale_arcsec(h)
            if px is None or abs(px / scale - 1) > 0.01:
                raise DataError(f"{where}: pixel scale {px} arcsec, the model needs {scale} (within 1 %); "
                                "resample the cutout or set PIXSCALE / a celestial WCS")
            if (h["NAXIS2"], h["NAXIS1"]) != (size, size):
                raise DataError(f"{where}: {h['NAXIS1']}×{h['NAXIS2']} px, the model needs {size}×{size}")
            try:
                data = hdu.data
            except Exception as exc:  # truncated data behind a good header
                raise DataError(f"{path}: cannot read the image of HDU {index} ({exc.__class__.__name__}: {exc}); "
                                "the file is damaged or truncated — re-download or regenerate it") from exc
            planes[band] = np.asarray(data, dtype=np.float32) * np.float32(factor)
        if ra is None:  # the position may be the file's, in the primary header
            ra, dec = _position(hdul[0].header)
    if not planes:
        raise DataError(f"{path}: no image HDU of the model's bands {bands} (bands found in FILTER/FILTER1/FILTER2: "
                        f"{', '.join(found) or 'none'}); set FILTER to the band names the model was trained on")
    if ra is None or dec is None:
        raise DataError(f"{path}: no RA_OBJ/DEC_OBJ or CRVAL1/CRVAL2 in a band or the primary header; the catalog "
                        "needs positions")
    if len(planes) < len(bands):
        return None, float(ra), float(dec), FLAG_MISSING_BAND
    image = np.stack([planes[b] for b in bands], axis=-1)
    return image, float(ra), float(dec), (FLAG_NAN if not np.isfinite(image).all() else 0)


def make_members_catalog(model: MembersCatalogModel, cutouts: Path, *, batch_size: int = 256, progress: bool = False):
    """Score every cutout file in ``cutouts`` (``*.fits``, sorted) and return the catalog.

    Returns
    -------
    skysieve.catalog.CatalogResult
        ``id`` (file stem), ``ra``, ``dec`` (deg), ``member_prob`` (NaN if
        skipped), ``is_member`` (``member_prob ≥`` the registered threshold),
        ``flags`` (1 = missing band, 2 = NaN pixels), ``file`` (the file's
        name, for the gallery); header: model, version, threshold, band
        configuration, cutout size (``SIZE_PX``), ``INPUT = 'cutouts'``,
        ``CUTDIR``, the inputs' checksum and code version.
    """
    from skysieve.catalog import CatalogResult, file_sha256, progress_bars
    from skysieve.catalog._fits_checks import fits_stem

    t0 = time.perf_counter()
    cutouts = Path(cutouts)
    if not cutouts.is_dir():
        raise DataError(f"{cutouts}: not a directory; give --member-cutouts DIR of FITS cutouts")
    files = sorted(p for p in cutouts.iterdir() if p.is_file() and fits_stem(p.name))
    if not files:
        raise DataError(f"{cutouts}: no FITS files (*.fits, *.fit, *.fts, optionally .gz); put one file per source "
                        "with one image HDU per band (FILTER keyword)")
    ids, ras, decs, flags, images, good = [], [], [], [], [], []
    with progress_bars(progress) as add:
        advance = add("reading cutouts", len(files))
        for i, f in enumerate(files):
            image, ra, dec, flag = read_member_cutout(f, model.config)
            ids.append(fits_stem(f.name))
            ras.append(ra)
            decs.append(dec)
            flags.append(flag)
            if flag == 0:
                images.append(image)
                good.append(i)
            advance(1)
    if not good:
        n_missing, n_nan = sum(f == FLAG_MISSING_BAND for f in flags), sum(f == FLAG_NAN for f in flags)
        raise DataError(f"{cutouts}: none of {len(files)} cutouts is usable ({n_missing} lack one of the bands "
                        f"{model.config['bands']}, {n_nan} hold NaNs)")
    prob = np.full(len(files), np.nan)
    x = np.stack(images)
    scores = [np.asarray(model.cnn.predict_proba(x[s: s + batch_size]), float).ravel()
              for s in range(0, len(x), batch_size)]
    prob[good] = np.concatenate(scores)
    digest = __import__("hashlib").sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()
    table = Table({"id": np.array(ids), "ra": np.array(ras), "dec": np.array(decs), "member_prob": prob,
                   "is_member": np.nan_to_num(prob, nan=-1.0) >= model.threshold,
                   "flags": np.array(flags, dtype=np.int16)})
    table["ra"].unit = table["dec"].unit = "deg"
    table["file"] = [f.name for f in files]  # for the gallery: thumbnails from the same files (CUTDIR)
    table.meta.update({**_model_meta(model), "INPUT": "cutouts", "CUTDIR": str(cutouts.resolve()),
                       "INPUTSHA": digest[:64], "NFILES": len(files)})
    summary = {"n_rows": len(files), "n_scored": len(good), "n_members": int(table["is_member"].sum()),
               "n_missing_band": sum(f == FLAG_MISSING_BAND for f in flags), "n_nan": sum(f == FLAG_NAN for f in flags),
               "threshold": model.threshold, "t_total_s": time.perf_counter() - t0}
    return CatalogResult(table=table, summary=summary)


def cutout_spec(config: dict):
    """The engine's :class:`~skysieve.catalog.CutoutSpec` of a members model's stored catalog config."""
    from skysieve.catalog import CutoutSpec

    return CutoutSpec(channels=tuple(config["bands"]), size_px=int(config["size_px"]),
                      pixel_arcsec=float(config["pixel_scale_arcsec"]), unit=str(config["unit"]))


def make_members_catalog_at_positions(model: MembersCatalogModel, images: list[Path], positions: Path, *,
                                      batch_size: int = 256):
    """Score the sources at ``positions`` of the large band ``images`` and return the catalog.

    Parameters
    ----------
    model : MembersCatalogModel
    images : list of path
        One FITS image per band of the model (any order): ``FILTER``, a
        celestial WCS, ``BUNIT`` convertible to the model's unit, the model's
        pixel scale within 1 %.
    positions : path
        ``.fits``, ``.csv`` or ``.ecsv`` table of ``ra``, ``dec`` (deg, ICRS), optional ``id``.

    Returns
    -------
    skysieve.catalog.CatalogResult
        ``id``, ``ra``, ``dec`` (deg), ``member_prob`` (NaN if not scored),
        ``is_member`` (``member_prob ≥`` the registered threshold), ``flags``
        (2 = NaN pixels, 4 = cutout not inside every image), ``x``, ``y``
        (pix, first band), ``flag_edge``, ``off_image``; header: model,
        version, threshold, bands, each image's and the positions' SHA-256, code version.

    Raises
    ------
    DataError
        Bad images or positions (:func:`skysieve.catalog.open_positions`), or no scorable position.
    """
    from skysieve.catalog import CatalogResult, open_positions

    t0 = time.perf_counter()
    where = f"model {model.name} v{model.version}"
    cuts = open_positions(images, positions, cutout_spec(model.config), who=where)
    try:
        prob = np.full(cuts.n, np.nan)
        flags = np.where(cuts.flag_edge, FLAG_EDGE, 0).astype(np.int16)
        for index, x in cuts.batches(batch_size):
            finite = np.isfinite(x).all(axis=(1, 2, 3))
            flags[index[~finite]] |= FLAG_NAN
            if finite.any():
                prob[index[finite]] = np.asarray(model.cnn.predict_proba(x[finite]), float).ravel()
        if not np.isfinite(prob).any():
            raise DataError(f"{positions}: none of the {cuts.n} positions could be scored ({int(cuts.flag_edge.sum())} "
                            f"with a cutout not inside every image, {int((flags & FLAG_NAN).astype(bool).sum())} "
                            "with NaN pixels)")
        table = Table({"id": cuts.ids, "ra": cuts.ra, "dec": cuts.dec, "member_prob": prob,
                       "is_member": np.nan_to_num(prob, nan=-1.0) >= model.threshold, "flags": flags})
        table["ra"].unit = table["dec"].unit = "deg"
        for name, (values, unit) in cuts.columns().items():
            table[name] = values
            if unit:
                table[name].unit = unit
        table.meta.update({**_model_meta(model), **cuts.header()})
        summary = {"n_rows": cuts.n, "n_scored": int(np.isfinite(prob).sum()),
                   "n_members": int(table["is_member"].sum()), "n_missing_band": 0,
                   "n_nan": int((flags & FLAG_NAN).astype(bool).sum()), **cuts.summary(),
                   "threshold": model.threshold, "t_total_s": time.perf_counter() - t0}
    finally:
        cuts.close()
    return CatalogResult(table=table, summary=summary)
