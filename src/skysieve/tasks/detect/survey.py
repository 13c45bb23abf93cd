"""Survey inference: a registered detector over arbitrarily large g, r, i images, in overlapping windows.

The image is brought to the model's pixel scale (integer block sums), cut
into windows of the model's input size overlapping by ``overlap_px``; every
window is stretched like the training fields and scored by the fold models'
mean maps; detections from all windows are merged by non-maximum suppression
in sky coordinates and written with their RA, Dec.  NaN pixels (outside the
footprint) are masked: windows with nothing observed are skipped and
counted, detections on masked pixels dropped, and the masked area reported.
"""

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from skysieve.errors import DataError
from skysieve.tasks.detect.dataset import stretch
from skysieve.tasks.detect.evaluate import decode_maps, predict_maps

__all__ = ["SurveyDetections", "bin_to_scale", "detect_image", "nms_sky", "window_starts"]


def bin_to_scale(data: np.ndarray, *, pixel_arcsec: float, model_arcsec: float) -> tuple[np.ndarray, int]:
    """Sum ``k × k`` blocks so the pixels are the model's (k = model / image scale, an integer within 1 %).

    A block with any NaN pixel is NaN.  Returns the binned (ny/k, nx/k, nb) stack and k.

    Raises
    ------
    DataError
        The scales are not an integer ratio (the model would see other pixels than it learned on).
    """
    ratio = model_arcsec / pixel_arcsec
    k = int(round(ratio))
    if k < 1 or abs(ratio - k) > 0.01 * ratio:
        raise DataError(f"pixel scale {pixel_arcsec:.4g}″ does not divide the model's {model_arcsec:.4g}″ by an "
                        "integer; resample the images to the model's pixel scale or an integer fraction of it")
    if k == 1:
        return data, 1
    ny, nx = (data.shape[0] // k) * k, (data.shape[1] // k) * k
    d = data[:ny, :nx].reshape(ny // k, k, nx // k, k, -1)
    return d.sum(axis=(1, 3)), k


def window_starts(n: int, *, window: int, step: int) -> np.ndarray:
    """Start pixels of windows of ``window`` px every ``step`` px covering 0…n−1 (the last flush with the edge)."""
    if n <= window:
        return np.array([0])
    starts = list(range(0, n - window + 1, step))
    if starts[-1] != n - window:
        starts.append(n - window)
    return np.asarray(starts)


def nms_sky(ra: np.ndarray, dec: np.ndarray, score: np.ndarray, *, radius_arcsec: float) -> np.ndarray:
    """Greedy non-maximum suppression on the sky: keep the best, drop every detection within the radius, repeat.

    Returns the indices kept, best first.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    order = np.argsort(-np.asarray(score), kind="stable")
    if order.size == 0:
        return order
    c = SkyCoord(ra=np.asarray(ra)[order] * u.deg, dec=np.asarray(dec)[order] * u.deg)
    i, j, _, _ = c.search_around_sky(c, radius_arcsec * u.arcsec)
    suppressed = np.zeros(order.size, dtype=bool)
    keep = []
    neighbours = [[] for _ in range(order.size)]
    for a, b in zip(i, j, strict=True):
        if a != b:
            neighbours[a].append(b)
    for a in range(order.size):
        if suppressed[a]:
            continue
        keep.append(order[a])
        suppressed[neighbours[a]] = True
    return np.asarray(keep, dtype=np.int64)


@dataclass
class SurveyDetections:
    """Detections of one image and what was (not) looked at.

    Attributes
    ----------
    table : Table
        ``ra``, ``dec`` (deg), ``score``, ``x_px``, ``y_px`` (input pixels), ``box_w_arcsec``, ``box_h_arcsec``.
    n_windows, n_skipped : int
        Windows scored, and windows skipped because nothing in them was observed.
    area_deg2, masked_deg2 : float
        Image area and the part of it masked (NaN).
    n_candidates : int
        Detections before non-maximum suppression.
    """

    table: Table
    n_windows: int
    n_skipped: int
    area_deg2: float
    masked_deg2: float
    n_candidates: int


def detect_image(data: np.ndarray, wcs, *, pixel_arcsec: float, models, window_px: int, model_arcsec: float,
                 stride: int, stretch_kind: str, softening: float, min_score: float, max_per_window: int,
                 overlap_px: int, nms_arcsec: float, batch_size: int = 16, tta: bool = False,
                 progress=None) -> SurveyDetections:
    """Detect clusters over one multi-band image.

    Parameters
    ----------
    data : ndarray of shape (ny, nx, nband)
        Band images in the model's channel order (NaN = unobserved).
    wcs : astropy.wcs.WCS
        Celestial WCS of ``data``.
    pixel_arcsec, model_arcsec : float
        The image's and the model's pixel scales.
    models : list of keras.Model
        The fold models (their mean maps are used).
    window_px : int
        The model's input side (model pixels).
    overlap_px : int
        Overlap of neighbouring windows (model pixels), < ``window_px``.
    nms_arcsec : float
        Detections closer than this are one (the higher score is kept).
    tta : bool
        Average each window's maps over its eight orientations (as the evaluation did, the version's
        ``detect.tta`` tag).
    progress : callable(n), optional
        Advanced by the number of windows scored.

    Returns
    -------
    SurveyDetections
    """
    if not 0 <= overlap_px < window_px:
        raise DataError(f"--overlap-px must be in [0, {window_px}) model pixels (got {overlap_px})")
    binned, k = bin_to_scale(data, pixel_arcsec=pixel_arcsec, model_arcsec=model_arcsec)
    finite = np.isfinite(binned).all(axis=-1)
    pix_deg2 = (pixel_arcsec / 3600.0) ** 2
    area = data.shape[0] * data.shape[1] * pix_deg2
    masked = float((~np.isfinite(data).all(axis=-1)).sum() * pix_deg2)
    ny, nx = finite.shape
    step = window_px - overlap_px
    starts = [(y0, x0) for y0 in window_starts(ny, window=window_px, step=step)
              for x0 in window_starts(nx, window=window_px, step=step)]
    used, stack, skipped = [], [], 0
    for y0, x0 in starts:
        win = np.full((window_px, window_px, binned.shape[-1]), np.nan, dtype=np.float64)
        part = binned[y0: y0 + window_px, x0: x0 + window_px]
        win[: part.shape[0], : part.shape[1]] = part
        if not np.isfinite(win).all(axis=-1).any():
            skipped += 1
            continue
        used.append((y0, x0))
        stack.append(stretch(win, kind=stretch_kind, softening=softening))
    rows = []
    for start in range(0, len(stack), batch_size):
        maps = predict_maps(models, np.stack(stack[start: start + batch_size]), batch_size=batch_size, tta=tta)
        det = decode_maps(maps, stride=stride, min_score=min_score, max_detections=max_per_window)
        for d in det:
            y0, x0 = used[start + int(d["image"])]
            bx, by = x0 + float(d["x_px"]), y0 + float(d["y_px"])
            iy, ix = int(round(by)), int(round(bx))
            if not (0 <= iy < ny and 0 <= ix < nx) or not finite[iy, ix]:
                continue  # off the image or on a masked pixel
            rows.append((bx, by, float(d["score"]), float(d["width_px"]), float(d["height_px"])))
        if progress is not None:
            progress(min(batch_size, len(stack) - start))
    names = ("ra", "dec", "score", "x_px", "y_px", "box_w_arcsec", "box_h_arcsec")
    if not rows:
        table = Table(names=names, dtype=[float] * len(names))
    else:
        r = np.asarray(rows)
        # binned pixel centre c ↔ input pixels k c + (k − 1) / 2
        x_in, y_in = k * r[:, 0] + (k - 1) / 2, k * r[:, 1] + (k - 1) / 2
        ra, dec = wcs.wcs_pix2world(x_in, y_in, 0)
        keep = nms_sky(ra, dec, r[:, 2], radius_arcsec=nms_arcsec)
        table = Table([ra[keep], dec[keep], r[keep, 2], x_in[keep], y_in[keep], r[keep, 3] * model_arcsec,
                       r[keep, 4] * model_arcsec], names=names)
    for c in ("ra", "dec"):
        table[c].unit = "deg"
    table["box_w_arcsec"].unit = table["box_h_arcsec"].unit = "arcsec"
    return SurveyDetections(table, len(used), skipped, area, masked, len(rows))
