"""Merging the overlapping tiles that fire on one object into one candidate.

Greedy non-maximum suppression on the sky.  Each positive tile has a
position: the matched-filter detection in its central region if it holds one
(the MF centroid is good to a fraction of a pixel), else its centre.  Tiles
are taken in decreasing score; the first unassigned tile seeds a candidate
and takes every unassigned tile whose position lies within ``radius_arcmin``
of its own, except tiles that hold a *different* detection than the
candidate (two detections are two objects); tiles holding the candidate's
detection join it wherever they are.
"""

import numpy as np

__all__ = ["drop_duplicates", "merge_tiles", "unit_vectors"]


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors of sky positions, shape (n, 3)."""
    ra, dec = np.radians(np.asarray(ra_deg, float)), np.radians(np.asarray(dec_deg, float))
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def merge_tiles(ra_deg: np.ndarray, dec_deg: np.ndarray, *, score: np.ndarray, detection: np.ndarray,
                radius_arcmin: float, tiebreak: np.ndarray | None = None) -> list[np.ndarray]:
    """Group positive tiles into candidates (see the module docstring).

    Parameters
    ----------
    ra_deg, dec_deg : ndarray of shape (n,)
        Position of each tile (its detection's, or its centre), deg.
    score : ndarray of shape (n,)
        Higher first (the rank product).
    detection : ndarray of shape (n,), int
        The detection each tile holds, or −1.
    radius_arcmin : float
        Merging radius.
    tiebreak : ndarray of shape (n,), optional
        Second sort key, higher first (the CNN probability).

    Returns
    -------
    list of ndarray of int
        One array of tile indices per candidate, seed first, candidates in
        decreasing seed score.
    """
    from scipy.spatial import cKDTree

    n = np.size(score)
    if n == 0:
        return []
    detection = np.asarray(detection, np.int64)
    keys = (np.zeros(n) if tiebreak is None else -np.asarray(tiebreak, float), -np.asarray(score, float))
    order = np.lexsort(keys)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    vec = unit_vectors(ra_deg, dec_deg)
    tree = cKDTree(vec)
    chord = 2.0 * np.sin(np.radians(radius_arcmin / 60.0) / 2.0)
    assigned = np.zeros(n, dtype=bool)
    groups = []
    for seed in order:
        if assigned[seed]:
            continue
        assigned[seed] = True
        members, det = [seed], detection[seed]
        near = np.asarray(tree.query_ball_point(vec[seed], chord), dtype=np.int64)
        for j in near[np.argsort(rank[near])]:
            if assigned[j] or (det >= 0 and detection[j] >= 0 and detection[j] != det):
                continue
            assigned[j] = True
            members.append(j)
            det = detection[j] if det < 0 else det
        if det >= 0:  # the candidate's detection: every tile holding it is this object
            same = np.flatnonzero(~assigned & (detection == det))
            assigned[same] = True
            members.extend(same.tolist())
        groups.append(np.asarray(members, dtype=np.int64))
    return groups


def drop_duplicates(ra_deg: np.ndarray, dec_deg: np.ndarray, *, score: np.ndarray, group: np.ndarray,
                    radius_arcmin: float) -> np.ndarray:
    """Which rows to keep when catalogs of overlapping fields are stacked: one row per object.

    Rows are taken in decreasing score; a kept row drops every lower-scoring
    row of *another* group (field) within ``radius_arcmin``.  Rows of one
    group are never dropped for each other (their field's own merge already
    told them apart), and rows without a finite position are always kept.

    Parameters
    ----------
    ra_deg, dec_deg : ndarray of shape (n,)
        Positions, deg.
    score : ndarray of shape (n,)
        Higher first; ties keep the earlier row.
    group : ndarray of shape (n,), int
        The field of each row.
    radius_arcmin : float
        Rows of different fields closer than this are one object.

    Returns
    -------
    ndarray of shape (n,), bool
        True for the rows kept.
    """
    from scipy.spatial import cKDTree

    n = np.size(score)
    keep = np.ones(n, dtype=bool)
    if n == 0 or not radius_arcmin > 0:
        return keep
    group = np.asarray(group)
    order = np.argsort(-np.asarray(score, float), kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    vec = unit_vectors(ra_deg, dec_deg)
    placed = np.flatnonzero(np.isfinite(vec).all(axis=1))
    tree = cKDTree(vec[placed])
    chord = 2.0 * np.sin(np.radians(radius_arcmin / 60.0) / 2.0)
    for i in order[np.isin(order, placed)]:
        if not keep[i]:
            continue
        near = placed[np.asarray(tree.query_ball_point(vec[i], chord), dtype=np.int64)]
        near = near[(rank[near] > rank[i]) & (group[near] != group[i])]
        keep[near] = False
    return keep
