"""The four SZ cluster classifiers of DeepSZ Table 1, as small estimators.

Every method is fitted on the validation split (a table with ``label``,
``cnn_prob`` and ``mf_snr`` columns — a DataFrame, an astropy Table or a dict
of arrays) and then decides on any other cutouts without looking at them as a
batch:

* ``mf``  — MF SNR ≥ t_mf, t_mf maximising validation F1;
* ``cnn`` — CNN probability ≥ t_cnn, likewise;
* ``and`` — both, with its own pair (t_cnn, t_mf) from a grid over validation;
* ``rank_product`` — q = q_cnn · q_mf ≥ t_q, each q a rank percentile against
  the stored validation scores (:class:`ReferenceDistribution`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from skysieve.config._evaluate import EnsembleParams
from skysieve.ensemble._reference import ReferenceDistribution
from skysieve.errors import DataError
from skysieve.metrics._binary import _labels, _scores, best_f1_threshold

__all__ = [
    "CNN_COLUMN",
    "LABEL_COLUMN",
    "METHODS",
    "MF_COLUMN",
    "AndEnsemble",
    "Ensembles",
    "RankProductEnsemble",
    "ThresholdClassifier",
    "fit_ensembles",
]

LABEL_COLUMN = "label"
CNN_COLUMN = "cnn_prob"
MF_COLUMN = "mf_snr"
#: Method names, in DeepSZ Table 1 order.
METHODS = ("mf", "cnn", "and", "rank_product")


def _names(data: Any) -> list[str]:
    for attr in ("colnames", "columns"):
        if hasattr(data, attr):
            return [str(c) for c in getattr(data, attr)]
    return [str(k) for k in data.keys()] if hasattr(data, "keys") else []


def _column(data: Any, name: str, n: int | None = None) -> np.ndarray:
    try:
        column = data[name]
    except (KeyError, ValueError, IndexError, TypeError):
        raise DataError(f"missing column '{name}' (have {_names(data)}); add it to the table") from None
    values = np.asarray(getattr(column, "value", column))
    if n is not None and values.shape != (n,):
        raise DataError(f"column '{name}' has shape {values.shape}; expected ({n},) like the other columns")
    return values


def _fit_columns(val: Any, *names: str) -> tuple[np.ndarray, ...]:
    y = _labels(_column(val, LABEL_COLUMN), f"validation '{LABEL_COLUMN}'")
    if not y.any():
        raise DataError(
            "the validation table has no positive labels, so no threshold can be chosen by F1; "
            "widen the validation split (split.val_frac of the search's cutouts section)"
        )
    cols = tuple(_scores(_column(val, c, y.size), y.size, f"validation '{c}'") for c in names)
    return (y, *cols)


def _check_fitted(est: Any, attr: str) -> None:
    if getattr(est, attr, None) is None:
        raise DataError(f"{type(est).__name__} is not fitted; call fit(val) on the validation table first")


class ThresholdClassifier:
    """One score, one threshold: positive iff ``data[column] >= threshold_``.

    Parameters
    ----------
    column : str
        The score column (``"mf_snr"`` or ``"cnn_prob"``).

    Attributes
    ----------
    threshold_ : float
        The F1-maximising threshold on the validation table.
    val_f1_ : float
        F1 at that threshold on validation.
    """

    def __init__(self, column: str) -> None:
        self.column = column
        self.threshold_: float | None = None
        self.val_f1_: float | None = None

    def fit(self, val: Any) -> "ThresholdClassifier":
        """Choose ``threshold_`` on the validation table (``label`` and ``column``)."""
        y, s = _fit_columns(val, self.column)
        self.threshold_, self.val_f1_ = best_f1_threshold(y, s)
        return self

    def score(self, data: Any) -> np.ndarray:
        """The score column itself, as float64."""
        return np.asarray(_column(data, self.column), dtype=np.float64)

    def decide(self, data: Any) -> np.ndarray:
        """Boolean decisions, ``score >= threshold_``."""
        _check_fitted(self, "threshold_")
        return self.score(data) >= self.threshold_


class AndEnsemble:
    """Positive iff CNN probability ≥ t_cnn **and** MF SNR ≥ t_mf (DeepSZ "EnsembleAND").

    The pair is the maximum of validation F1 on a grid: on each axis,
    ``grid_size`` quantiles of the validation *positives'* scores (the F1
    optimum always sits at a positive's score, so with ``grid_size`` at least
    the number of positives the search is exact).

    Parameters
    ----------
    grid_size : int, keyword-only
        Thresholds per axis.

    Attributes
    ----------
    t_cnn_, t_mf_ : float
    val_f1_ : float
    grid_cnn_, grid_mf_ : ndarray
        The thresholds tried (ascending).
    f1_grid_ : ndarray of shape (len(grid_mf_), len(grid_cnn_))
        Validation F1 over the grid (DeepSZ figure 6b).
    """

    def __init__(self, *, grid_size: int = 200) -> None:
        if grid_size < 2:
            raise DataError(f"AndEnsemble: grid_size must be >= 2 (got {grid_size})")
        self.grid_size = grid_size
        self.t_cnn_: float | None = None
        self.t_mf_: float | None = None
        self.val_f1_: float | None = None
        self.grid_cnn_: np.ndarray | None = None
        self.grid_mf_: np.ndarray | None = None
        self.f1_grid_: np.ndarray | None = None

    def _grid(self, positives: np.ndarray) -> np.ndarray:
        levels = np.linspace(0.0, 1.0, self.grid_size)
        return np.unique(np.quantile(positives, levels, method="inverted_cdf"))

    def fit(self, val: Any) -> "AndEnsemble":
        """Search the (t_cnn, t_mf) grid on the validation table."""
        y, cnn, mf = _fit_columns(val, CNN_COLUMN, MF_COLUMN)
        grid_cnn = self._grid(cnn[y])
        grid_mf = self._grid(mf[y])
        n_pos = int(y.sum())
        order = np.argsort(cnn, kind="stable")
        cnn_sorted, y_sorted, mf_sorted = cnn[order], y[order], mf[order]
        f1 = np.empty((grid_mf.size, grid_cnn.size))
        for i, t_mf in enumerate(grid_mf):
            keep = mf_sorted >= t_mf
            c_pos = cnn_sorted[keep & y_sorted]
            c_neg = cnn_sorted[keep & ~y_sorted]
            tp = c_pos.size - np.searchsorted(c_pos, grid_cnn, side="left")
            fp = c_neg.size - np.searchsorted(c_neg, grid_cnn, side="left")
            f1[i] = 2.0 * tp / (tp + fp + n_pos)
        # ties: the last maximum in (t_mf, t_cnn) order, i.e. the strictest pair
        flat = int(np.flatnonzero(f1.ravel() == f1.max())[-1])
        i, j = np.unravel_index(flat, f1.shape)
        self.grid_cnn_, self.grid_mf_, self.f1_grid_ = grid_cnn, grid_mf, f1
        self.t_cnn_, self.t_mf_, self.val_f1_ = float(grid_cnn[j]), float(grid_mf[i]), float(f1[i, j])
        return self

    def decide(self, data: Any) -> np.ndarray:
        """Boolean decisions, ``cnn_prob >= t_cnn_ & mf_snr >= t_mf_``."""
        _check_fitted(self, "t_cnn_")
        cnn = np.asarray(_column(data, CNN_COLUMN), dtype=np.float64)
        mf = np.asarray(_column(data, MF_COLUMN, cnn.size), dtype=np.float64)
        return (cnn >= self.t_cnn_) & (mf >= self.t_mf_)


class RankProductEnsemble:
    """q = q_cnn · q_mf ≥ t_q (DeepSZ "EnsemblePROD"), ranks against stored references.

    Attributes
    ----------
    reference_cnn_, reference_mf_ : ReferenceDistribution
        The validation scores; every later percentile is taken against these.
    threshold_ : float
        The F1-maximising threshold on q over validation.
    val_f1_ : float
    """

    def __init__(self) -> None:
        self.reference_cnn_: ReferenceDistribution | None = None
        self.reference_mf_: ReferenceDistribution | None = None
        self.threshold_: float | None = None
        self.val_f1_: float | None = None

    def fit(self, val: Any) -> "RankProductEnsemble":
        """Store the validation score distributions and choose the threshold on q."""
        y, cnn, mf = _fit_columns(val, CNN_COLUMN, MF_COLUMN)
        self.reference_cnn_ = ReferenceDistribution(cnn, name=CNN_COLUMN)
        self.reference_mf_ = ReferenceDistribution(mf, name=MF_COLUMN)
        self.threshold_, self.val_f1_ = best_f1_threshold(y, self._q(cnn, mf))
        return self

    def _q(self, cnn: np.ndarray, mf: np.ndarray) -> np.ndarray:
        return self.reference_cnn_.percentile(cnn) * self.reference_mf_.percentile(mf)

    def score(self, data: Any) -> np.ndarray:
        """The rank product q in [0, 1] of each row."""
        _check_fitted(self, "reference_cnn_")
        cnn = np.asarray(_column(data, CNN_COLUMN), dtype=np.float64)
        mf = np.asarray(_column(data, MF_COLUMN, cnn.size), dtype=np.float64)
        return self._q(cnn, mf)

    def decide(self, data: Any) -> np.ndarray:
        """Boolean decisions, ``q >= threshold_``."""
        _check_fitted(self, "threshold_")
        return self.score(data) >= self.threshold_


@dataclass(frozen=True)
class Ensembles:
    """The four fitted methods, used together.

    Attributes
    ----------
    mf, cnn : ThresholdClassifier
    and_ : AndEnsemble
    rank_product : RankProductEnsemble
    """

    mf: ThresholdClassifier
    cnn: ThresholdClassifier
    and_: AndEnsemble
    rank_product: RankProductEnsemble

    def _data(self, cnn_prob: ArrayLike, mf_snr: ArrayLike) -> dict[str, np.ndarray]:
        cnn = np.asarray(cnn_prob, dtype=np.float64).ravel()
        mf = np.asarray(mf_snr, dtype=np.float64).ravel()
        if cnn.shape != mf.shape:
            raise DataError(f"cnn_prob and mf_snr must have one value per cutout each (got {cnn.size} and {mf.size})")
        return {CNN_COLUMN: cnn, MF_COLUMN: mf}

    def score(self, cnn_prob: ArrayLike, mf_snr: ArrayLike) -> dict[str, np.ndarray]:
        """Scores per method: ``mf`` (SNR), ``cnn`` (probability), ``rank_product`` (q).

        The AND ensemble has no single score.
        """
        data = self._data(cnn_prob, mf_snr)
        return {"mf": data[MF_COLUMN], "cnn": data[CNN_COLUMN], "rank_product": self.rank_product.score(data)}

    def decide(self, cnn_prob: ArrayLike, mf_snr: ArrayLike) -> dict[str, np.ndarray]:
        """Boolean decisions of every method, keyed by :data:`METHODS`.

        Parameters
        ----------
        cnn_prob : array-like of shape (n,)
            CNN (calibrated) probabilities.
        mf_snr : array-like of shape (n,)
            Matched-filter SNRs of the same cutouts.

        Returns
        -------
        dict of str to ndarray of shape (n,), bool
        """
        data = self._data(cnn_prob, mf_snr)
        return {
            "mf": self.mf.decide(data),
            "cnn": self.cnn.decide(data),
            "and": self.and_.decide(data),
            "rank_product": self.rank_product.decide(data),
        }

    def predict_columns(self, cnn_prob: ArrayLike, mf_snr: ArrayLike) -> dict[str, np.ndarray]:
        """Scores and decisions of every method as columns (catalogs, the registry model).

        Returns
        -------
        dict of str to ndarray of shape (n,)
            ``cnn_prob``, ``mf_snr``, ``q_cnn``, ``q_mf`` (rank percentiles
            against the stored references), ``rank_product``, and a boolean
            ``decision_<method>`` for each of :data:`METHODS`.
        """
        data = self._data(cnn_prob, mf_snr)
        q_cnn = self.rank_product.reference_cnn_.percentile(data[CNN_COLUMN])
        q_mf = self.rank_product.reference_mf_.percentile(data[MF_COLUMN])
        columns = {
            CNN_COLUMN: data[CNN_COLUMN],
            MF_COLUMN: data[MF_COLUMN],
            "q_cnn": q_cnn,
            "q_mf": q_mf,
            "rank_product": q_cnn * q_mf,
        }
        columns.update({f"decision_{m}": d for m, d in self.decide(data[CNN_COLUMN], data[MF_COLUMN]).items()})
        return columns

    def thresholds(self) -> dict[str, float]:
        """Every threshold, flat: ``mf``, ``cnn``, ``and.cnn``, ``and.mf``, ``rank_product``."""
        return {
            "mf": self.mf.threshold_,
            "cnn": self.cnn.threshold_,
            "and.cnn": self.and_.t_cnn_,
            "and.mf": self.and_.t_mf_,
            "rank_product": self.rank_product.threshold_,
        }

    def val_f1(self) -> dict[str, float]:
        """Validation F1 of every method at its thresholds."""
        return {
            "mf": self.mf.val_f1_,
            "cnn": self.cnn.val_f1_,
            "and": self.and_.val_f1_,
            "rank_product": self.rank_product.val_f1_,
        }

    def references(self) -> dict[str, np.ndarray]:
        """The stored reference (validation) score distributions, sorted."""
        return {CNN_COLUMN: self.rank_product.reference_cnn_.values, MF_COLUMN: self.rank_product.reference_mf_.values}

    @classmethod
    def from_state(cls, thresholds: Mapping[str, float], references: Mapping[str, ArrayLike]) -> "Ensembles":
        """Rebuild fitted methods from :meth:`thresholds` and :meth:`references` (e.g. loaded from a registry).

        Raises
        ------
        DataError
            If a threshold or reference is missing.
        """
        need = ("mf", "cnn", "and.cnn", "and.mf", "rank_product")
        missing = [k for k in need if k not in thresholds] + [k for k in (CNN_COLUMN, MF_COLUMN) if k not in references]
        if missing:
            raise DataError(f"Ensembles.from_state: missing {missing}; the stored state needs thresholds {list(need)} "
                            f"and references {[CNN_COLUMN, MF_COLUMN]}")
        mf = ThresholdClassifier(MF_COLUMN)
        mf.threshold_ = float(thresholds["mf"])
        cnn = ThresholdClassifier(CNN_COLUMN)
        cnn.threshold_ = float(thresholds["cnn"])
        and_ = AndEnsemble()
        and_.t_cnn_, and_.t_mf_ = float(thresholds["and.cnn"]), float(thresholds["and.mf"])
        rp = RankProductEnsemble()
        rp.reference_cnn_ = ReferenceDistribution(references[CNN_COLUMN], name=CNN_COLUMN)
        rp.reference_mf_ = ReferenceDistribution(references[MF_COLUMN], name=MF_COLUMN)
        rp.threshold_ = float(thresholds["rank_product"])
        return cls(mf=mf, cnn=cnn, and_=and_, rank_product=rp)


def fit_ensembles(val: Any, *, params: EnsembleParams | None = None) -> Ensembles:
    """Fit the MF, CNN, AND and rank-product classifiers on the validation split.

    Parameters
    ----------
    val : table-like
        Validation cutouts with columns ``label`` (0/1), ``cnn_prob`` and
        ``mf_snr``: a pandas DataFrame, astropy Table or dict of arrays.
    params : EnsembleParams, optional, keyword-only
        Grid size of the AND search; defaults to ``EnsembleParams()``.

    Returns
    -------
    Ensembles
    """
    params = params or EnsembleParams()
    return Ensembles(
        mf=ThresholdClassifier(MF_COLUMN).fit(val),
        cnn=ThresholdClassifier(CNN_COLUMN).fit(val),
        and_=AndEnsemble(grid_size=params.and_grid_size).fit(val),
        rank_product=RankProductEnsemble().fit(val),
    )
