"""Matching matched-filter detections to halos and cutouts (DeepSZ §2.3), and per-cutout scores.

The rules, applied in order:

1. A detection is matched to the most massive halo within ``radius_arcmin``
   (1′) of it, if any.
2. Every detection is assigned to the cutout that holds the detection
   itself (``cutout_id``: *position-only*, no truth used — what
   ``skysieve catalog`` does on a real map).  For comparison the truth-assisted
   assignment of DeepSZ §2.3 is kept beside it (``cutout_id_truth``): a
   matched ("true") detection goes to the cutout that holds the halo's true
   centre, an unmatched one to the cutout that holds the detection.  It
   flatters the MF — a detection 0.9′ off its halo, across a central-region
   border, still lands on the positive cutout.  A point is held by the cutout
   whose central region (``central_px`` square; the central regions tile the
   sky) contains it; if no kept cutout's central region does (map edges,
   dropped cutouts), by the cutout whose full footprint contains it with the
   nearest centre; else by none.
3. Each cutout takes the highest SNR of the detections assigned to it
   (:func:`cutout_scores`, ``assignment="position"`` or ``"truth"``).

**Continuous score.**  A ranking (rank percentiles, ROC curves, the rank-
product ensemble) needs a score for *every* cutout.  A cutout with no
detection gets the highest value of the SNR map (maximum over scales) in its
central region, capped at the detection threshold:
``mf_snr = min(max_central SNR, snr_threshold)``.  The cap keeps rule 2
intact: the pixels above the threshold belong to a detection, which was
assigned elsewhere on purpose (e.g. to the cutout of its halo), so they must
not lift this cutout above the cutouts that do hold detections.  Every
detection-holding cutout therefore ranks above every other, and within each
class the order follows the SNR.
"""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.wcs import WCS

from skysieve._columns import column_values
from skysieve.errors import DataError

__all__ = ["ASSIGNMENTS", "assign_to_cutouts", "cutout_scores", "match_detections", "match_to_halos"]

#: The cutout column of :func:`match_detections` each assignment rule of :func:`cutout_scores` reads.
ASSIGNMENTS = {"position": "cutout_id", "truth": "cutout_id_truth"}


def match_to_halos(ra_deg: np.ndarray, dec_deg: np.ndarray, halo_ra_deg: np.ndarray, halo_dec_deg: np.ndarray,
                   halo_mass: np.ndarray, *, radius_arcmin: float = 1.0) -> np.ndarray:
    """Index of the most massive halo within ``radius_arcmin`` of each detection.

    Parameters
    ----------
    ra_deg, dec_deg : ndarray of shape (n,)
        Detections, deg.
    halo_ra_deg, halo_dec_deg, halo_mass : ndarray of shape (m,)
        Halos (deg; any mass unit).
    radius_arcmin : float

    Returns
    -------
    ndarray of shape (n,), int64
        Halo index, or −1 where no halo lies within the radius.
    """
    out = np.full(np.size(ra_deg), -1, dtype=np.int64)
    if np.size(ra_deg) == 0 or np.size(halo_ra_deg) == 0:
        return out
    det = SkyCoord(np.asarray(ra_deg, float) * u.deg, np.asarray(dec_deg, float) * u.deg)
    halos = SkyCoord(np.asarray(halo_ra_deg, float) * u.deg, np.asarray(halo_dec_deg, float) * u.deg)
    i_halo, i_det, _, _ = det.search_around_sky(halos, radius_arcmin * u.arcmin)
    if i_det.size:
        mass = np.asarray(halo_mass, float)[i_halo]
        order = np.lexsort((-mass, i_det))  # by detection, most massive first
        first = np.unique(i_det[order], return_index=True)[1]
        out[i_det[order][first]] = i_halo[order][first]
    return out


def assign_to_cutouts(x: np.ndarray, y: np.ndarray, *, x0: np.ndarray, y0: np.ndarray, size_px: np.ndarray | int,
                      central_px: int) -> np.ndarray:
    """Row of the cutout that holds each point (rule 2 of the module docstring).

    Pixel centres are at integers; a point at (x, y) is in the central region
    of the cutout with corner (x0, y0) iff ``x0 + m − ½ ≤ x < x0 + m + c − ½``
    (same in y), ``m = (size − c) / 2``, the convention of the cutout labels.

    Parameters
    ----------
    x, y : ndarray of shape (n,)
        Points, pixels.
    x0, y0 : ndarray of shape (k,)
        Lower-left pixel of each cutout.
    size_px : int or ndarray of shape (k,)
    central_px : int

    Returns
    -------
    ndarray of shape (n,), int64
        Cutout row, or −1.
    """
    x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
    x0, y0 = np.asarray(x0, float), np.asarray(y0, float)
    size = np.broadcast_to(np.asarray(size_px, float), x0.shape)
    margin = (size - central_px) / 2.0
    xc, yc = x0 + (size - 1) / 2.0, y0 + (size - 1) / 2.0
    out = np.full(x.size, -1, dtype=np.int64)
    for start in range(0, x.size, 256):
        px, py = x[start: start + 256, None], y[start: start + 256, None]
        central = ((x0 + margin - 0.5 <= px) & (px < x0 + margin + central_px - 0.5)
                   & (y0 + margin - 0.5 <= py) & (py < y0 + margin + central_px - 0.5))
        inside = (x0 - 0.5 <= px) & (px < x0 + size - 0.5) & (y0 - 0.5 <= py) & (py < y0 + size - 0.5)
        dist = np.hypot(px - xc, py - yc)
        candidates = np.where(central.any(axis=1, keepdims=True), central, inside)
        dist = np.where(candidates, dist, np.inf)
        best = np.argmin(dist, axis=1)
        found = np.isfinite(dist[np.arange(best.size), best])
        out[start: start + best.size] = np.where(found, best, -1)
    return out


def match_detections(detections: Table, cutouts: Table, *, wcs: WCS, central_px: int, halos: Table | None = None,
                     mass_column: str = "mvir", radius_arcmin: float = 1.0) -> Table:
    """Apply rules 1 and 2: match detections to halos and assign them to cutouts, by position and by truth.

    Parameters
    ----------
    detections : Table
        ``ra``, ``dec`` (deg), ``snr`` and ``x``, ``y`` (pixels).
    cutouts : Table
        The cutout catalog: ``id``, ``x0``, ``y0``, ``size_px``.
    wcs : astropy.wcs.WCS
        Celestial WCS of the maps the cutouts were cut from.
    central_px : int
        Side of a cutout's central region, pixels.
    halos : Table, optional
        Truth catalog with ``ra``, ``dec`` (deg), ``mass_column`` and
        optionally ``halo_id``; without it every detection counts as false
        (the case of real maps).
    mass_column : str
    radius_arcmin : float

    Returns
    -------
    Table
        A copy of ``detections`` with ``halo_id`` (−1 if unmatched; the row
        index where the halo catalog has no ``halo_id``), ``halo_sep_arcmin``,
        ``cutout_id`` (the cutout holding the detection's own position; −1
        if none) and ``cutout_id_truth`` (that of its halo's centre when
        matched, else ``cutout_id``).

    Raises
    ------
    DataError
        If the halo catalog lacks a needed column.
    """
    out = detections.copy()
    n = len(out)
    halo_index = np.full(n, -1, dtype=np.int64)
    tx, ty = np.asarray(out["x"], float).copy(), np.asarray(out["y"], float).copy()
    halo_id = np.full(n, -1, dtype=np.int64)
    sep = np.full(n, np.nan)
    if halos is not None:
        missing = [c for c in ("ra", "dec", mass_column) if c not in halos.colnames]
        if missing:
            raise DataError(f"halo catalog: missing columns {missing}; needed to match detections "
                            f"(mf_sz.match_mass_column = {mass_column!r}; have {halos.colnames})")
        hra = column_values(halos["ra"], u.deg, table="halo catalog")
        hdec = column_values(halos["dec"], u.deg, table="halo catalog")
        ra = column_values(out["ra"], u.deg, table="detections")
        dec = column_values(out["dec"], u.deg, table="detections")
        halo_index = match_to_halos(ra, dec, hra, hdec, column_values(halos[mass_column]), radius_arcmin=radius_arcmin)
        hit = halo_index >= 0
        if hit.any():
            hx, hy = wcs.celestial.world_to_pixel_values(hra[halo_index[hit]], hdec[halo_index[hit]])
            tx[hit], ty[hit] = hx, hy
            ids = np.asarray(halos["halo_id"], np.int64) if "halo_id" in halos.colnames else np.arange(len(halos))
            halo_id[hit] = ids[halo_index[hit]]
            d = SkyCoord(ra[hit] * u.deg, dec[hit] * u.deg)
            h = SkyCoord(hra[halo_index[hit]] * u.deg, hdec[halo_index[hit]] * u.deg)
            sep[hit] = d.separation(h).to_value(u.arcmin)
    ids = np.asarray(cutouts["id"], np.int64)

    def cutout_of(px, py):
        rows = assign_to_cutouts(px, py, x0=np.asarray(cutouts["x0"]), y0=np.asarray(cutouts["y0"]),
                                 size_px=np.asarray(cutouts["size_px"]), central_px=central_px)
        return np.where(rows >= 0, ids[np.maximum(rows, 0)] if ids.size else -1, -1)

    out["halo_id"] = halo_id
    out["halo_sep_arcmin"] = sep
    out["cutout_id"] = cutout_of(np.asarray(out["x"], float), np.asarray(out["y"], float))
    out["cutout_id_truth"] = cutout_of(tx, ty)
    return out


def cutout_scores(matched: Table, cutouts: Table, *, peak_snr_map: np.ndarray, central_px: int,
                  snr_threshold: float, assignment: str = "position") -> Table:
    """Rule 3 and the continuous score: one ``mf_snr`` per cutout.

    With ``assignment="position"`` (the default) a cutout's score is the
    highest SNR of the detections in its central region: no truth column is
    read.  ``"truth"`` uses the truth-assisted assignment (``cutout_id_truth``).

    Parameters
    ----------
    matched : Table
        From :func:`match_detections` (``snr``, ``cutout_id`` or
        ``cutout_id_truth``, ``halo_id``, ``theta_c_arcmin``, ``ra``, ``dec``).
    cutouts : Table
        ``id``, ``x0``, ``y0``, ``size_px``.
    peak_snr_map : ndarray of shape (ny, nx)
        Maximum over scales of the SNR maps.
    central_px : int
    snr_threshold : float
        The detection threshold; caps the score of detection-free cutouts.
    assignment : {"position", "truth"}

    Returns
    -------
    Table
        In the row order of ``cutouts``: ``id``, ``mf_snr`` (the highest SNR
        of the detections assigned to the cutout, else
        ``min(max SNR in the central region, snr_threshold)``),
        ``mf_detected`` (bool), ``mf_halo_id`` (−1), ``mf_theta_c_arcmin``,
        ``mf_ra``, ``mf_dec`` (the detection, NaN where none).
    """
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"assignment {assignment!r}: expected one of {sorted(ASSIGNMENTS)}")
    column = ASSIGNMENTS[assignment]
    ids = np.asarray(cutouts["id"], np.int64)
    k = ids.size
    row_of = {int(i): r for r, i in enumerate(ids)}
    snr = np.full(k, -np.inf)
    best = np.full(k, -1, dtype=np.int64)
    det_snr = np.asarray(matched["snr"], float)
    for d in np.argsort(-det_snr, kind="stable"):
        r = row_of.get(int(matched[column][d]), -1)
        if r >= 0 and best[r] < 0:
            best[r], snr[r] = d, det_snr[d]
    detected = best >= 0
    x0, y0 = np.asarray(cutouts["x0"], np.int64), np.asarray(cutouts["y0"], np.int64)
    margin = (np.asarray(cutouts["size_px"], np.int64) - central_px) // 2
    ny, nx = peak_snr_map.shape
    for r in np.flatnonzero(~detected):
        ya, xa = max(y0[r] + margin[r], 0), max(x0[r] + margin[r], 0)
        patch = peak_snr_map[ya: min(ya + central_px, ny), xa: min(xa + central_px, nx)]
        snr[r] = min(float(patch.max()), snr_threshold) if patch.size else -np.inf
    take = np.maximum(best, 0)

    def pick(col: str, fill):
        if len(matched) == 0 or col not in matched.colnames:  # no truth columns: no halo ids
            return np.full(k, fill)
        return np.where(detected, np.asarray(matched[col])[take], fill)

    out = Table()
    out["id"] = ids
    out["mf_snr"] = snr.astype(np.float32)
    out["mf_detected"] = detected
    out["mf_halo_id"] = pick("halo_id", -1).astype(np.int64)
    out["mf_theta_c_arcmin"] = pick("theta_c_arcmin", np.nan).astype(float)
    out["mf_ra"] = pick("ra", np.nan).astype(float)
    out["mf_dec"] = pick("dec", np.nan).astype(float)
    out["mf_theta_c_arcmin"].unit = "arcmin"
    out["mf_ra"].unit = out["mf_dec"].unit = "deg"
    return out
