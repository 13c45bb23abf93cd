"""Rank percentiles against a stored reference distribution.

DeepSZ defines the rank percentile of a score within the batch being scored.
That makes a threshold on it mean different things on different fields, so
here the reference is fixed: the validation scores, stored with the model.
Ties take the mid-rank (half credit for equal values)::

    q(x) = (#{r < x} + #{r <= x}) / (2 N)

which is ``scipy.stats.percentileofscore(reference, x, kind="mean") / 100``.
"""

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError

__all__ = ["ReferenceDistribution", "rank_percentile"]


class ReferenceDistribution:
    """A sorted, stored sample of scores that other scores are ranked against.

    Parameters
    ----------
    values : array-like of shape (n,)
        The reference scores (the validation split's), finite; at least one.
    name : str, keyword-only
        What the scores are (``"cnn_prob"``, ``"mf_snr"``), for messages and files.

    Attributes
    ----------
    values : ndarray of shape (n,), float64
        Sorted ascending, read-only.
    """

    __slots__ = ("name", "values")

    def __init__(self, values: ArrayLike, *, name: str = "score") -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.size == 0:
            raise DataError(f"ReferenceDistribution '{name}': no reference scores; pass the validation scores")
        if not np.isfinite(v).all():
            raise DataError(
                f"ReferenceDistribution '{name}': {int((~np.isfinite(v)).sum())} NaN or infinite reference "
                "scores; drop or fill them first"
            )
        v = np.sort(v)
        v.setflags(write=False)
        self.values = v
        self.name = name

    def __len__(self) -> int:
        return int(self.values.size)

    def __repr__(self) -> str:
        lo, hi = self.values[0], self.values[-1]
        return f"ReferenceDistribution(name={self.name!r}, n={len(self)}, range=[{lo:g}, {hi:g}])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReferenceDistribution):
            return NotImplemented
        return self.name == other.name and np.array_equal(self.values, other.values)

    __hash__ = None  # type: ignore[assignment]

    def percentile(self, scores: ArrayLike) -> np.ndarray:
        """Mid-rank percentile of each score within the reference, in [0, 1].

        Parameters
        ----------
        scores : array-like
            Any shape; NaN scores give NaN.

        Returns
        -------
        ndarray, same shape as ``scores``
        """
        return rank_percentile(scores, self.values, presorted=True)


def rank_percentile(scores: ArrayLike, reference: ArrayLike, *, presorted: bool = False) -> np.ndarray:
    """Mid-rank percentile of ``scores`` within ``reference``.

    Parameters
    ----------
    scores : array-like
        Scores to rank (any shape).
    reference : array-like of shape (n,)
        The reference sample; never the batch being scored unless that is
        what you mean.
    presorted : bool, keyword-only
        Skip sorting when ``reference`` is already ascending.

    Returns
    -------
    ndarray, same shape as ``scores``, in [0, 1]
        0 below the reference minimum, 1 above its maximum; NaN for NaN.
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    if ref.size == 0:
        raise DataError("rank_percentile: the reference is empty; pass the stored validation scores")
    if not presorted:
        ref = np.sort(ref)
    x = np.asarray(scores, dtype=np.float64)
    lo = np.searchsorted(ref, x, side="left")
    hi = np.searchsorted(ref, x, side="right")
    q = (lo + hi) / (2.0 * ref.size)
    return np.where(np.isnan(x), np.nan, q)
