"""The two inputs of the lens catalog: a directory of multi-band cutouts, or positions in large band images.

Both are checked from the FITS headers (and the positions table) before any
pixel is read — bands, cutout size, pixel scale, ``BUNIT`` — and both hand
the cutouts over in batches (:meth:`CutoutDirectory.batches`,
:meth:`PositionCutouts.batches`), so memory holds one batch whatever the
size of the run.

**Cutout directory.** Every ``*.fits`` / ``*.fit`` / ``*.fts`` (optionally
``.gz``) file in the directory (not its subdirectories) is either

* a *cutout file*: one 2-D image HDU per band, the band named by its
  ``FILTER`` keyword, HDUs in any order (HDUs of other bands, or without
  ``FILTER``, are ignored); or
* a *band file* ``<stem>_<FILTER>.fits`` with a single image HDU; the band
  files of one stem make one cutout (``FILTER`` may be left out of such a
  file's header: the name says it).

Band names match the model's regardless of case; where ``FILTER`` is absent,
HST/ACS's ``FILTER1``/``FILTER2`` (the one that is not ``CLEAR…``) names the
band.

The cutout's ``id`` is the stem.  A cutout larger than the model's is cropped
to its central ``size_px × size_px`` pixels, starting at pixel
``(n − size_px) // 2`` of each axis (Angora et al. 2023 score the central
region of larger cutouts); a smaller one is an error.  ``ra``, ``dec`` are
the world coordinates of the cropped cutout's centre where the file has a
celestial WCS (NaN elsewhere).

**Positions.** One large image per band (its first 2-D image HDU, ``FILTER``
in that HDU or the primary header, and a celestial WCS, each band with its
own), and a table of ``ra``, ``dec`` (deg, ICRS) with an
optional ``id``.  Each band is cut at each position with
:class:`astropy.nddata.Cutout2D` (mode ``strict``) from its own pixel
position ``wcs.world_to_pixel``; a position whose cutout is not wholly inside
every image is kept with ``flag_edge`` (and ``off_image`` when its centre is
off an image) and is not scored.
"""


from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from skysieve.errors import DataError
from skysieve.tasks.lens._catalog_config import LensCatalogConfig
from skysieve.catalog._fits_checks import (
    _check_scale,
    _band_of,
    _image_headers,
    _keyword,
    _open,
    _radec,
    _sha256,
    _wcs,
    _wcs_cards,
    combined_sha256,
    fits_stem,
    unit_factor,
)
from skysieve.catalog._positions import PositionCutouts, open_positions, read_positions

__all__ = ["CutoutDirectory", "PositionCutouts", "combined_sha256", "fits_stem", "open_cutout_dir",
           "open_positions", "read_positions", "unit_factor"]


@dataclass(frozen=True)
class _Band:
    """One band of one cutout: where its image is and the factor to the model's unit."""

    path: Path
    hdu: int
    factor: float


@dataclass(frozen=True)
class _Cutout:
    id: str
    bands: tuple[_Band, ...]  # channel order
    shape: tuple[int, int]

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(b.path for b in self.bands))


@dataclass
class CutoutDirectory:
    """The checked cutouts of a directory (headers read, no pixels), streamed by :meth:`batches`.

    Attributes
    ----------
    directory : Path
    config : LensCatalogConfig
    cutouts : list
        Per cutout: its id, where each band's image is (file, HDU, unit factor) and its shape.
    ids : ndarray of shape (n,), str
        File stems, sorted.
    ra, dec : ndarray of shape (n,)
        World position of each (cropped) cutout's centre, deg; NaN without a celestial WCS.
    files : ndarray of shape (n,), str
        The file(s) of each cutout, comma-separated names.
    shapes : ndarray of shape (n, 2), int
        (ny, nx) of each cutout before cropping.
    n_files : int
        FITS files read.
    n_skipped : int
        Band files of bands the model does not take (ignored).
    digests : dict of str to str
        SHA-256 of every file read so far by :meth:`batches`.
    """

    directory: Path
    config: LensCatalogConfig
    cutouts: list[_Cutout]
    ids: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    files: np.ndarray
    shapes: np.ndarray
    n_files: int
    n_skipped: int
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of cutouts."""
        return len(self.cutouts)

    @property
    def usable(self) -> np.ndarray:
        """Which cutouts can be scored (all of them: every check passed)."""
        return np.ones(self.n, dtype=bool)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(index, images)``: row indices and the cropped cutouts, float32 (b, size, size, nchan).

        Pixels are converted to the model's unit.  Each file is read once and
        its SHA-256 recorded in :attr:`digests`.
        """
        s = self.config.size_px
        for start in range(0, self.n, batch_size):
            index = np.arange(start, min(start + batch_size, self.n))
            images = np.empty((index.size, s, s, len(self.config.bands)), dtype=np.float32)
            for k, i in enumerate(index):
                images[k] = self._read(self.cutouts[i])
            yield index, images

    def _read(self, cutout: _Cutout) -> np.ndarray:
        s = self.config.size_px
        ny, nx = cutout.shape
        y0, x0 = (ny - s) // 2, (nx - s) // 2
        out = np.empty((s, s, len(cutout.bands)), dtype=np.float32)
        for path in cutout.files:
            with _open(path) as hdul:
                for c, band in enumerate(cutout.bands):
                    if band.path == path:
                        try:
                            data = hdul[band.hdu].data
                        except Exception as exc:  # truncated data behind a good header
                            raise DataError(f"{path}: cannot read the image of HDU {band.hdu} ({exc}); "
                                            "re-download or regenerate it") from exc
                        out[..., c] = np.asarray(data[y0: y0 + s, x0: x0 + s], dtype=np.float32) * band.factor
            self.digests[path.name] = _sha256(path)
        return out

    def header(self) -> dict[str, Any]:
        """FITS header keywords of the input: ``INPUT``, ``CUTDIR``, ``NFILES``, ``NCUTOUT``, ``SHA256``.

        ``SHA256`` is :func:`combined_sha256` of the per-file digests, so it
        is complete only after :meth:`batches` has run to the end.
        """
        return {"INPUT": "cutouts", "CUTDIR": str(self.directory.resolve()), "NFILES": len(self.digests),
                "NCUTOUT": self.n, "SHA256": combined_sha256(list(self.digests.values()))}

    def columns(self) -> dict[str, tuple[np.ndarray, str | None]]:
        """Input-specific output columns: ``file``."""
        return {"file": (self.files, None)}

    def summary(self) -> dict[str, Any]:
        """Counts: ``n_files``, ``n_skipped_files``."""
        return {"n_files": self.n_files, "n_skipped_files": self.n_skipped}


def open_cutout_dir(directory: str | Path, config: LensCatalogConfig, *, who: str = "the model") -> CutoutDirectory:
    """Find and check the cutouts of a directory, reading headers only.

    Parameters
    ----------
    directory : path
        Cutout files and/or band files (see the module docstring).
    config : LensCatalogConfig
        What the model takes: bands, pixel scale, cutout side, unit.
    who : str, keyword-only
        The model, for messages (``model 'x' v3``).

    Returns
    -------
    CutoutDirectory

    Raises
    ------
    DataError
        No such directory or no FITS file in it; an unreadable file; a cutout
        lacking a band (naming the file and the band), with a band twice,
        bands of different shapes, smaller than the model's cutouts, with
        pixels of another scale (from its WCS, 1 % tolerance) or a ``BUNIT``
        not convertible to the model's unit.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: cutout directory not found; --cutouts takes a directory of FITS cutouts")
    paths = sorted(p for p in directory.iterdir() if p.is_file() and fits_stem(p.name))
    if not paths:
        raise DataError(f"{directory}: no FITS files (*.fits, *.fit, *.fts, optionally .gz); put one file per "
                        "cutout (one image HDU per band, FILTER keyword) or one per band named <stem>_<FILTER>.fits")
    channels = config.channels
    groups: dict[str, dict[str, tuple[Path, int, fits.Header, fits.Header]]] = {}
    sources: dict[str, list[Path]] = {}
    skipped = 0
    for path in paths:
        stem = fits_stem(path.name)
        with _open(path) as hdul:  # the headers stay readable once the file is closed
            images = _image_headers(hdul)
            primary = hdul[0].header
        if not images:
            raise DataError(f"{path}: no 2-D image HDU; a cutout file holds one image per band ({', '.join(channels)})"
                            " with the FILTER keyword")
        entries = []
        group = stem
        for index, header in images:
            band, per_band = _band_of(header, primary, stem, channels, len(images))
            if per_band is not None:
                group = per_band
            entries.append((band, index, header))
        if group != stem and entries[0][0] not in channels:  # a band file of a band the model does not take
            skipped += 1
            continue
        bands = groups.setdefault(group, {})
        sources.setdefault(group, []).append(path)
        for band, index, header in entries:
            if band is None or band not in channels:
                continue
            if band in bands:
                first = bands[band][0]
                raise DataError(f"cutout '{group}': band {band} twice ({first} HDU {bands[band][1]} and "
                                f"{path} HDU {index}); keep one image per band")
            bands[band] = (path, index, header, primary)
    if not groups:
        raise DataError(f"{directory}: none of its {len(paths)} FITS files holds a band {who} takes "
                        f"({', '.join(channels)})")
    s = config.size_px
    cutouts, ras, decs, shapes, files = [], [], [], [], []
    for gid in sorted(groups):
        bands = groups[gid]
        names = ", ".join(p.name for p in sources[gid])
        missing = [c for c in channels if c not in bands]
        if missing:
            have = sorted(bands) or "none"
            raise DataError(f"{', '.join(str(p) for p in sources[gid])}: no {', '.join(missing)} image for cutout "
                            f"'{gid}' (bands found: {have}); "
                            f"{who} takes {', '.join(channels)}: give each cutout file one image HDU per band with "
                            "FILTER = <band>, or one file per band named <stem>_<FILTER>.fits")
        refs, shape, wcs0, seen = [], None, None, {}
        for c in channels:
            path, index, header, primary = bands[c]
            where = f"{path} (HDU {index}, {c})"
            this = (int(header["NAXIS2"]), int(header["NAXIS1"]))
            if shape is None:
                shape = this
            elif this != shape:
                raise DataError(f"{where}: {this[0]}×{this[1]} px but the cutout's {channels[0]} image is "
                                f"{shape[0]}×{shape[1]} px; all bands of a cutout must share one pixel grid")
            if min(this) < s:
                raise DataError(f"{where}: {this[0]}×{this[1]} px, smaller than the {s}×{s} px "
                                f"({config.size_arcsec:g}″) cutouts {who} takes; cut larger cutouts (larger ones "
                                "are centre-cropped)")
            cards = _wcs_cards(header)
            if cards not in seen:  # bands of one cutout share their WCS, typically: build and check it once
                seen[cards] = _wcs(header, where=where)
                if seen[cards] is not None:
                    _check_scale(seen[cards], config, where=where, who=who, fix="resample the cutouts")
            wcs0 = wcs0 or seen[cards]
            factor = unit_factor(_keyword(header, primary, "BUNIT") or "", config.unit, where=where)
            refs.append(_Band(path, index, factor))
        ny, nx = shape
        if wcs0 is not None:
            ra, dec = _radec(wcs0, np.array([(nx - s) // 2 + (s - 1) / 2.0]), np.array([(ny - s) // 2 + (s - 1) / 2.0]))
            ras.append(float(ra[0]))
            decs.append(float(dec[0]))
        else:
            ras.append(np.nan)
            decs.append(np.nan)
        cutouts.append(_Cutout(gid, tuple(refs), shape))
        shapes.append(shape)
        files.append(names)
    return CutoutDirectory(directory=directory, config=config, cutouts=cutouts,
                           ids=np.array([c.id for c in cutouts], dtype=str), ra=np.array(ras, float),
                           dec=np.array(decs, float), files=np.array(files, dtype=str),
                           shapes=np.array(shapes, dtype=np.int64).reshape(-1, 2), n_files=len(paths),
                           n_skipped=skipped)


# --------------------------------------------------------------------------------------------------------------
# Positions in large images
# --------------------------------------------------------------------------------------------------------------

