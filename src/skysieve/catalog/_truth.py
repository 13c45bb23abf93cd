"""Scoring a catalog against a truth catalog: one-to-one matching within a radius.

The true objects are the halos that pass the positive cut the model was
trained with (the search's positive cut, stored with the model) and lie in the
catalog's footprint (the union of the tiles' central regions).  Candidates
and true objects are matched one to one, closest pairs first, within
``radius_arcmin``.  For a method, with ``N_c`` its candidates (rows where its
decision is true), ``N_t`` the true objects and ``TP`` the matched pairs::

    purity = TP / N_c,   completeness = TP / N_t,   F1 = 2 TP / (N_c + N_t)

(:class:`skysieve.evaluate.ConfusionCounts` with FP = N_c − TP, FN = N_t − TP
and no true negatives).
"""

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from skysieve._columns import column_values
from skysieve.config import PositiveCriteria
from skysieve.errors import DataError
from skysieve.evaluate import ConfusionCounts

__all__ = ["check_truth", "match_one_to_one", "select_truth", "truth_counts"]


def check_truth(truth: Table, *, positive: PositiveCriteria, name: str = "truth catalog") -> Table:
    """Check that a halo table has ``ra``, ``dec``, ``z`` and the mass column of the positive cut.

    Raises
    ------
    DataError
        Naming ``name``, the missing columns and the columns it has.
    """
    need = ("ra", "dec", "z", positive.mass_column)
    missing = [c for c in need if c not in truth.colnames]
    if missing:
        raise DataError(f"{name}: missing columns {missing}; truth matching needs ra, dec (deg), z and "
                        f"'{positive.mass_column}' (Msun, the model's positive cut) — have {truth.colnames}")
    return truth


def select_truth(truth: Table, *, positive: PositiveCriteria, in_footprint) -> Table:
    """The halos that count as true objects: passing the positive cut and inside the footprint.

    Parameters
    ----------
    truth : Table
        ``ra``, ``dec`` (deg), ``z``, the mass column (Msun); optional ``halo_id``.
    positive : PositiveCriteria
        ``mass ≥ m_min_msun`` and ``z ≥ z_min``.
    in_footprint : callable
        ``(ra_deg, dec_deg) -> bool array``.

    Returns
    -------
    Table
        The selected rows, with ``halo_id`` (the row index if the table has none).
    """
    check_truth(truth, positive=positive)
    out = truth.copy(copy_data=False)
    if "halo_id" not in out.colnames:
        out["halo_id"] = np.arange(len(out), dtype=np.int64)
    mass = column_values(out[positive.mass_column], u.Msun, table="truth catalog")
    z = column_values(out["z"])
    ra = column_values(out["ra"], u.deg, table="truth catalog")
    dec = column_values(out["dec"], u.deg, table="truth catalog")
    keep = (mass >= positive.m_min_msun) & (z >= positive.z_min)
    if keep.any():
        keep[keep] = np.asarray(in_footprint(ra[keep], dec[keep]), dtype=bool)
    return out[keep]


def match_one_to_one(ra_deg: np.ndarray, dec_deg: np.ndarray, truth_ra_deg: np.ndarray, truth_dec_deg: np.ndarray,
                     *, radius_arcmin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Match candidates to true objects one to one, closest pairs first, within ``radius_arcmin``.

    Returns
    -------
    index : ndarray of shape (n,), int64
        Row of the true object matched to each candidate, or −1.
    sep_arcmin : ndarray of shape (n,)
        Its separation, arcmin (NaN where unmatched).
    """
    n = np.size(ra_deg)
    index, sep = np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    if n == 0 or np.size(truth_ra_deg) == 0:
        return index, sep
    cand = SkyCoord(np.asarray(ra_deg, float) * u.deg, np.asarray(dec_deg, float) * u.deg)
    true = SkyCoord(np.asarray(truth_ra_deg, float) * u.deg, np.asarray(truth_dec_deg, float) * u.deg)
    i_true, i_cand, d, _ = cand.search_around_sky(true, radius_arcmin * u.arcmin)
    taken = np.zeros(np.size(truth_ra_deg), dtype=bool)
    for k in np.argsort(d.to_value(u.arcmin), kind="stable"):
        c, t = i_cand[k], i_true[k]
        if index[c] < 0 and not taken[t]:
            index[c], sep[c], taken[t] = t, d[k].to_value(u.arcmin), True
    return index, sep


def truth_counts(ra_deg: np.ndarray, dec_deg: np.ndarray, selected: np.ndarray, truth: Table, *,
                 radius_arcmin: float = 1.0) -> ConfusionCounts:
    """Confusion counts of the ``selected`` candidates against the true objects.

    Parameters
    ----------
    ra_deg, dec_deg : ndarray of shape (n,)
        Candidate positions, deg.
    selected : ndarray of shape (n,), bool
        The candidates a method keeps (its decision column).
    truth : Table
        The true objects (:func:`select_truth`).
    radius_arcmin : float

    Returns
    -------
    ConfusionCounts
        ``tp`` matched pairs, ``fp`` unmatched selected candidates, ``fn``
        unmatched true objects, ``tn`` 0.
    """
    selected = np.asarray(selected, dtype=bool)
    index, _ = match_one_to_one(np.asarray(ra_deg)[selected], np.asarray(dec_deg)[selected],
                                column_values(truth["ra"], u.deg, table="truth catalog"),
                                column_values(truth["dec"], u.deg, table="truth catalog"),
                                radius_arcmin=radius_arcmin)
    tp = int(np.count_nonzero(index >= 0))
    return ConfusionCounts(tp=tp, fp=int(selected.sum()) - tp, fn=len(truth) - tp, tn=0)
