"""Thumbnails: per-band panels, Lupton colour composites, placeholders, PNG bytes; and the engine's default.

Optical colour follows Lupton et al. (2004, PASP 116, 133): with the three
bands' sky-subtracted intensities :math:`r, g, b` and :math:`I = (r+g+b)/3`,
every channel is scaled by

.. math:: f(I)/I, \\qquad f(I) = \\operatorname{asinh}(Q\\,I/\\mathrm{stretch})/Q,

which keeps the colour of a source while compressing its dynamic range
(:func:`astropy.visualization.make_lupton_rgb`).  Single bands are shown
with an asinh stretch over their 0.5–99.5 percentile interval; millimetre
maps (signed, a cluster is a decrement below 217 GHz) on a linear scale
symmetric about zero, blue below, red above.
"""

import io
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from astropy.table import Table

from skysieve.gallery._images import GalleryImage, cut, open_images, wavelength_nm

__all__ = ["DEFAULT_SIZE_PX", "band_panels", "cut_rows", "default_thumbnails", "lupton_rgb", "placeholder",
           "png_bytes", "render_bands", "thumbnails_from_images"]

#: Side of a default cutout, pixels.
DEFAULT_SIZE_PX = 64
#: Smallest side of a drawn panel: small cutouts are enlarged by an integer factor (nearest pixel).
_MIN_PANEL_PX = 96
_LABEL_PX = 14
_NAN_GREY = 60


def _enlarge(img: np.ndarray) -> np.ndarray:
    factor = max(1, int(np.ceil(_MIN_PANEL_PX / max(img.shape[:2]))))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1) if factor > 1 else img


def _asinh_grey(data: np.ndarray) -> np.ndarray:
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    finite = np.isfinite(data)
    out = np.full(data.shape, _NAN_GREY, dtype=np.uint8)
    if finite.sum() < 2:
        return out
    norm = ImageNormalize(data[finite], interval=PercentileInterval(99.0), stretch=AsinhStretch(0.1), clip=True)
    out[finite] = np.round(255 * np.asarray(norm(data[finite]), float)).astype(np.uint8)
    return out


def _diverging(data: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    finite = np.isfinite(data)
    out = np.full((*data.shape, 3), _NAN_GREY, dtype=np.uint8)
    if not finite.any():
        return out
    limit = float(np.nanpercentile(np.abs(data[finite]), 99.5)) or 1.0
    rgba = colormaps["RdBu_r"](np.clip(0.5 + 0.5 * data[finite] / limit, 0.0, 1.0))
    out[finite] = np.round(255 * rgba[:, :3]).astype(np.uint8)
    return out


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """``img`` (H, W, 3) with a black strip below holding ``text`` in white."""
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (img.shape[1], _LABEL_PX), (0, 0, 0))
    ImageDraw.Draw(strip).text((2, 1), text[: max(1, img.shape[1] // 6)], fill=(255, 255, 255))
    return np.concatenate([img, np.asarray(strip, dtype=np.uint8)], axis=0)


def band_panels(panels: Sequence[tuple[np.ndarray | None, str]], *, signed: bool = False) -> np.ndarray:
    """One labelled panel per band, side by side: an (H, W, 3) uint8 image.

    Parameters
    ----------
    panels : sequence of (ndarray or None, str)
        Each band's cutout (NaN where it leaves the image; ``None``: off that
        image, drawn grey) and its label.
    signed : bool, keyword-only
        Linear and symmetric about zero on a blue–red map (millimetre maps),
        instead of the asinh grey stretch.
    """
    shape = next((p.shape for p, _ in panels if p is not None), (DEFAULT_SIZE_PX, DEFAULT_SIZE_PX))
    drawn = []
    for data, text in panels:
        if data is None:
            rgb = np.full((*shape, 3), _NAN_GREY, dtype=np.uint8)
        elif signed:
            rgb = _diverging(data)
        else:
            rgb = np.repeat(_asinh_grey(data)[..., None], 3, axis=2)
        drawn.append(_label(_enlarge(np.ascontiguousarray(rgb[::-1])), text))  # FITS row 0 is the bottom
    gap = np.full((drawn[0].shape[0], 2, 3), 255, dtype=np.uint8)
    return np.concatenate([x for d in drawn for x in (d, gap)][:-1], axis=1)


def lupton_rgb(red: np.ndarray, green: np.ndarray, blue: np.ndarray, *, q: float = 8.0,
               label: str = "") -> np.ndarray:
    """A Lupton asinh colour composite (H, W, 3) uint8 of three sky-subtracted bands (NaN and inf drawn black).

    The sky is each band's median; ``stretch`` is the 99.5th percentile of
    the mean intensity, so the brightest source of the cutout saturates.
    Bands without one finite pixel give the grey :func:`placeholder`.
    """
    from astropy.visualization import make_lupton_rgb

    bands = []
    if not any(np.isfinite(np.asarray(d, float)).any() for d in (red, green, blue)):
        return placeholder(text="no finite pixels")
    for data in (red, green, blue):
        data = np.asarray(data, float)
        data = np.where(np.isfinite(data), data, np.nan)  # an inf pixel is as unusable as a NaN one
        sky = np.nanmedian(data) if np.isfinite(data).any() else 0.0
        bands.append(np.nan_to_num(data - sky, nan=0.0))
    intensity = (bands[0] + bands[1] + bands[2]) / 3.0
    stretch = float(np.percentile(intensity, 99.5)) if intensity.size else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):  # astropy divides by I before masking I = 0
        rgb = make_lupton_rgb(*bands, minimum=0.0, stretch=stretch if stretch > 0 else 1.0, Q=q)
    img = _enlarge(np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[::-1]))
    return _label(img, label) if label else img


def placeholder(*, size_px: int = _MIN_PANEL_PX, text: str = "outside images") -> np.ndarray:
    """A grey square saying why there is no thumbnail."""
    return _label(np.full((size_px, size_px, 3), _NAN_GREY, dtype=np.uint8), text)


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG encoding of an (H, W, 3) uint8 image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8), mode="RGB").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def cut_rows(rows: Table, images: Sequence[GalleryImage], *, size_px: int
             ) -> Iterator[list[np.ndarray | None] | None]:
    """Per row, every image's cutout at its ``ra``, ``dec`` (``None`` per image it is off); ``None`` if off all."""
    ra = np.asarray(rows["ra"], float)
    dec = np.asarray(rows["dec"], float)
    for a, d in zip(ra, dec, strict=True):
        pieces = [cut(image, ra_deg=a, dec_deg=d, size_px=size_px) for image in images]
        yield None if all(p is None for p in pieces) else pieces


def _colour_triplet(bands: Sequence[str]) -> tuple[int, int, int] | None:
    """Indices of (red, green, blue) when three or more bands are all optical: reddest, middle, bluest."""
    waves = [wavelength_nm(b) for b in bands]
    if len(bands) < 3 or any(w is None for w in waves):
        return None
    order = sorted(range(len(bands)), key=lambda i: waves[i])
    return order[-1], order[len(order) // 2], order[0]


def render_bands(pieces: Sequence[np.ndarray | None], bands: Sequence[str], *, signed: bool = False) -> np.ndarray:
    """One thumbnail of one row's band cutouts: a Lupton RGB for ≥ 3 optical bands, else labelled band panels.

    Parameters
    ----------
    pieces : sequence of ndarray or None
        Each band's cutout (``None``: off that band's image).
    bands : sequence of str
        Their names (``FILTER``, ``148 GHz``…).
    signed : bool, keyword-only
        Panels on a linear scale symmetric about zero (millimetre maps).
    """
    triplet = None if signed else _colour_triplet(bands)
    if triplet is None:
        return band_panels(list(zip(pieces, bands, strict=True)), signed=signed)
    shape = next(p.shape for p in pieces if p is not None)
    r, g, b = (pieces[i] if pieces[i] is not None else np.full(shape, np.nan) for i in triplet)
    return lupton_rgb(r, g, b, label="/".join(bands[i] for i in triplet))


def thumbnails_from_images(rows: Table, images: Sequence[GalleryImage], *, size_px: int,
                           signed: bool = False) -> Iterator[np.ndarray | None]:
    """:func:`render_bands` of every row's cutouts of opened images; ``None`` for a row off every image."""
    bands = [im.band for im in images]
    for pieces in cut_rows(rows, images, size_px=size_px):
        yield None if pieces is None else render_bands(pieces, bands, signed=signed)


def default_thumbnails(rows: Table, images: Sequence[str | Path], *, size_px: int | None = None
                       ) -> Iterator[np.ndarray | None]:
    """The engine's thumbnails: FITS images cut at each row's ``ra``, ``dec`` (deg) through their WCS.

    Three or more optical bands (``FILTER`` names with a known wavelength:
    ``g``, ``r``, ``i``, ``F814W``…) make a Lupton colour composite of the
    reddest, a middle and the bluest band; any other set of images (one band,
    two, millimetre maps with ``FREQ``) makes one labelled panel per band.

    Parameters
    ----------
    rows : Table
        ``ra``, ``dec`` (deg).
    images : sequence of path
        FITS images with a celestial WCS (any number of bands, each its own WCS).
    size_px : int, keyword-only, optional
        Side of the cutout in image pixels (:data:`DEFAULT_SIZE_PX`).

    Yields
    ------
    ndarray of shape (H, W, 3), uint8, or None
        One thumbnail per row; ``None`` for a row off every image.

    Raises
    ------
    skysieve.errors.DataError
        An image that is missing, unreadable or without a celestial WCS.
    """
    with ExitStack() as stack:
        opened = open_images(images, stack)
        signed = all(im.freq_ghz is not None for im in opened)
        yield from thumbnails_from_images(rows, opened, size_px=size_px or DEFAULT_SIZE_PX, signed=signed)
