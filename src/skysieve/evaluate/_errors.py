"""Error rates by object property (Angora et al. 2023, Tables A.4 and A.5, Figs. 8 and 9), and normalised colour.

The rates use the paper's definitions, ``FNR = FN / (TP + FN)`` and
``FPR = FP / (TN + FP)``; the tables also print the ratios FP/TN and FN/TP,
which :class:`ErrorRates` gives as ``ratio``.  The normalised colour is a
galaxy's offset from the fitted red sequence (§4.3).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError
from skysieve.metrics import completeness_by_bin, wilson_interval
from skysieve.metrics._binary import _pair

__all__ = ["ErrorRates", "normalised_colour", "rate_by_bin", "rate_by_cut"]

ErrorKind = Literal["false_negative", "false_positive"]


@dataclass(frozen=True)
class ErrorRates:
    """False-negative (or false-positive) counts and rates in rows of one property.

    A row holds the objects of the class concerned — lenses for false
    negatives, non-lenses for false positives — whose property lies in
    ``[lo, hi)`` (the last bin of :func:`rate_by_bin` is closed).

    Attributes
    ----------
    kind : {"false_negative", "false_positive"}
    lo, hi : ndarray of shape (nrows,)
        Row bounds, in the property's units; ``-inf`` / ``inf`` for open cuts.
    n : ndarray of shape (nrows,), int
        Objects of the class in each row.
    errors : ndarray of shape (nrows,), int
        Of those, the misclassified: FN (lenses missed) or FP (non-lenses flagged).
    rate : ndarray of shape (nrows,)
        errors / n: FNR = FN / (TP + FN) or FPR = FP / (TN + FP); NaN in empty rows.
    rate_lo, rate_hi : ndarray of shape (nrows,)
        The rate's Wilson 95 % interval (:func:`skysieve.metrics.wilson_interval`);
        NaN in empty rows.
    n_total, errors_total : int
        The class's objects and errors in the whole sample, including those
        whose property is NaN or outside every row (the paper's "Total Number").
    """

    kind: ErrorKind
    lo: np.ndarray
    hi: np.ndarray
    n: np.ndarray
    errors: np.ndarray
    rate: np.ndarray
    rate_lo: np.ndarray
    rate_hi: np.ndarray
    n_total: int
    errors_total: int

    @property
    def correct(self) -> np.ndarray:
        """Correctly classified objects per row: TP (positives) or TN (negatives)."""
        return self.n - self.errors

    @property
    def ratio(self) -> np.ndarray:
        """FN / TP or FP / TN per row, as printed in Tables A.4 and A.5; NaN where nothing is correct."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.correct > 0, self.errors / np.maximum(self.correct, 1), np.nan)

    @property
    def share(self) -> np.ndarray:
        """Fraction of all the class's objects that fall in each row (Tables A.4/A.5, column 2)."""
        return self.n / self.n_total if self.n_total else np.full(self.n.shape, np.nan)

    @property
    def error_share(self) -> np.ndarray:
        """Fraction of all the errors that fall in each row (Tables A.4/A.5, columns 3 and 5)."""
        return self.errors / self.errors_total if self.errors_total else np.full(self.n.shape, np.nan)

    @property
    def total_rate(self) -> float:
        """errors_total / n_total over the whole sample; NaN if the class is absent."""
        return self.errors_total / self.n_total if self.n_total else float("nan")

    @property
    def total_interval(self) -> tuple[float, float]:
        """Wilson 95 % interval of :attr:`total_rate`; NaN if the class is absent."""
        lo, hi = wilson_interval(self.errors_total, self.n_total)
        return float(lo), float(hi)

    def as_columns(self) -> dict[str, np.ndarray]:
        """Columns for a CSV: ``lo``, ``hi``, ``n``, ``correct``, ``errors``, ``rate``, ``rate_lo``, ``rate_hi``,
        ``ratio``, ``share``, ``error_share``."""
        return {"lo": self.lo, "hi": self.hi, "n": self.n, "correct": self.correct, "errors": self.errors,
                "rate": self.rate, "rate_lo": self.rate_lo, "rate_hi": self.rate_hi, "ratio": self.ratio,
                "share": self.share, "error_share": self.error_share}


def _class_and_errors(labels: ArrayLike, decisions: ArrayLike, kind: str) -> tuple[np.ndarray, np.ndarray]:
    y, p = _pair(labels, decisions)
    if kind == "false_negative":
        return y, ~p  # lenses, and which of them were missed
    if kind == "false_positive":
        return ~y, p  # non-lenses, and which of them were flagged
    raise DataError(f"error kind must be 'false_negative' or 'false_positive' (got {kind!r})")


def rate_by_bin(
    labels: ArrayLike, decisions: ArrayLike, values: ArrayLike, bins: ArrayLike, *, kind: ErrorKind
) -> ErrorRates:
    """False-negative or false-positive rate in bins of a property (paper Figs. 8 and 9).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Truth, 0/1 or bool (1 = positive).
    decisions : array-like of shape (n,)
        The classifier's decisions at its threshold.
    values : array-like of shape (n,)
        The property (source magnitude, θ_E in arcsec, source redshift, lens
        magnitude, colour), in the units of ``bins``; NaN or out-of-range
        objects enter no bin but do count in the totals.
    bins : array-like of shape (nbins + 1,)
        Strictly increasing edges; bins are [lo, hi), the last [lo, hi].
    kind : {"false_negative", "false_positive"}, keyword-only
        ``false_negative``: rows of lenses, FNR = FN / (TP + FN).
        ``false_positive``: rows of non-lenses, FPR = FP / (TN + FP).

    Returns
    -------
    ErrorRates
    """
    members, wrong = _class_and_errors(labels, decisions, kind)
    # the error rate of a class is the "completeness" of its errors among its members
    binned = completeness_by_bin(members, wrong, values, bins)
    errors = np.where(binned.count > 0, np.rint(np.nan_to_num(binned.value) * binned.count), 0).astype(np.int64)
    return ErrorRates(kind=kind, lo=binned.edges[:-1], hi=binned.edges[1:], n=binned.count.astype(np.int64),
                      errors=errors, rate=binned.value, rate_lo=binned.lo, rate_hi=binned.hi,
                      n_total=int(members.sum()), errors_total=int((members & wrong).sum()))


def rate_by_cut(
    labels: ArrayLike, decisions: ArrayLike, values: ArrayLike, cuts: Sequence[float], *, kind: ErrorKind
) -> ErrorRates:
    """Error rates below and above each cut, the rows of Tables A.4 and A.5.

    Each cut ``c`` gives two rows, ``value < c`` then ``value >= c`` (e.g.
    ``F814W < 27`` and ``F814W >= 27``); cuts are taken in ascending order.

    Parameters
    ----------
    labels, decisions, values
        As :func:`rate_by_bin`.
    cuts : sequence of float
        At least one finite cut value.
    kind : {"false_negative", "false_positive"}, keyword-only

    Returns
    -------
    ErrorRates
        ``2 × len(cuts)`` rows with ``lo = -inf`` or ``hi = inf``.
    """
    cuts = np.unique(np.asarray(cuts, dtype=np.float64))
    if cuts.size == 0 or not np.isfinite(cuts).all():
        raise DataError(f"cuts must be one or more finite values (got {cuts.tolist()})")
    parts = [rate_by_bin(labels, decisions, values, [-np.inf, c, np.inf], kind=kind) for c in cuts]
    first = parts[0]
    return ErrorRates(kind=kind, **{k: np.concatenate([getattr(p, k) for p in parts])
                                    for k in ("lo", "hi", "n", "errors", "rate", "rate_lo", "rate_hi")},
                      n_total=first.n_total, errors_total=first.errors_total)


def _robust_line(x: np.ndarray, y: np.ndarray, *, clip_sigma: float, max_iter: int) -> tuple[float, float]:
    keep = np.ones(x.size, dtype=bool)
    slope, intercept = 0.0, float(np.median(y))
    for _ in range(max_iter):
        if keep.sum() >= 3 and np.ptp(x[keep]) > 0:
            slope, intercept = (float(v) for v in np.polyfit(x[keep], y[keep], 1))
        else:
            slope, intercept = 0.0, float(np.median(y[keep]))
        resid = y - (slope * x + intercept)
        scatter = 1.4826 * float(np.median(np.abs(resid[keep] - np.median(resid[keep]))))
        new = np.abs(resid) <= clip_sigma * scatter if scatter > 0 else keep
        if new.sum() < 2 or np.array_equal(new, keep):
            break
        keep = new
    return slope, intercept


def normalised_colour(
    colour: ArrayLike,
    magnitude: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    clip_sigma: float = 3.0,
    max_iter: int = 10,
) -> np.ndarray:
    """A galaxy's colour minus that of the red sequence at its magnitude (paper §4.3, Girardi et al. 2015).

    ``colour_norm = colour - CM(magnitude)``, where the colour–magnitude
    relation ``CM(m) = a m + b`` is a straight line fitted to the galaxies by
    least squares with iterative clipping of the points more than
    ``clip_sigma`` robust standard deviations (1.4826 × MAD) away — a simple
    stand-in for the paper's least-trimmed-squares fit.  Red-sequence
    galaxies end up near 0, blue ones negative, whatever the cluster redshift.

    Parameters
    ----------
    colour : array-like of shape (n,), mag
        E.g. F606W − F814W.
    magnitude : array-like of shape (n,), mag
        E.g. F814W.
    groups : array-like of shape (n,), optional
        Fit one relation per group (cluster), since the red sequence moves
        with redshift; default one fit for all.
    clip_sigma : float, keyword-only
    max_iter : int, keyword-only

    Returns
    -------
    ndarray of shape (n,), mag
        NaN where the colour or magnitude is not finite.
    """
    c = np.asarray(colour, dtype=np.float64)
    m = np.asarray(magnitude, dtype=np.float64)
    if c.shape != m.shape or c.ndim != 1:
        raise DataError(f"colour and magnitude must be 1-D of equal length (got shapes {c.shape} and {m.shape})")
    g = np.zeros(c.size, dtype=np.int64) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    if g.shape != c.shape:
        raise DataError(f"groups must hold one value per galaxy (got shape {np.shape(groups)}, expected {c.shape})")
    out = np.full(c.size, np.nan)
    ok = np.isfinite(c) & np.isfinite(m)
    for group in np.unique(g[ok]):
        sel = ok & (g == group)
        slope, intercept = _robust_line(m[sel], c[sel], clip_sigma=clip_sigma, max_iter=max_iter)
        out[sel] = c[sel] - (slope * m[sel] + intercept)
    return out


