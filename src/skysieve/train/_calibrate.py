"""Platt scaling (Platt 1999): a logistic map from raw CNN scores to probabilities."""

import numpy as np
from scipy.optimize import minimize

__all__ = ["PlattCalibrator"]

_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


class PlattCalibrator:
    """Calibrated probability ``p = 1 / (1 + exp(-(a · logit(s) + b)))`` of a raw score ``s`` in (0, 1).

    Fitted by maximum likelihood with Platt's smoothed targets
    ``t+ = (N+ + 1) / (N+ + 2)``, ``t- = 1 / (N- + 2)``, which keep the fit
    finite on separable data. ``a = 1, b = 0`` is the identity.

    Attributes
    ----------
    a_, b_ : float
        Slope and intercept on the logit scale (after :meth:`fit`).
    n_fit_ : int
        Number of scores it was fitted on.
    """

    def __init__(self) -> None:
        self.a_: float | None = None
        self.b_: float | None = None
        self.n_fit_: int = 0

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> "PlattCalibrator":
        """Fit on validation scores.

        Parameters
        ----------
        scores : ndarray of shape (n,), raw probabilities in [0, 1]
        labels : ndarray of shape (n,), 0/1

        Returns
        -------
        PlattCalibrator
            ``self``.
        """
        x = _logit(scores)
        y = np.asarray(labels, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1 or x.size == 0:
            raise ValueError(f"scores and labels must be equal-length 1-d arrays (got {x.shape} and {y.shape})")
        n_pos, n_neg = float(y.sum()), float(y.size - y.sum())
        target = np.where(y > 0.5, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            z = theta[0] * x + theta[1]
            # log(1 + e^z) - t z, computed stably; its gradient is (sigmoid(z) - t) (x, 1).
            loss = np.logaddexp(0.0, z) - target * z
            resid = 1 / (1 + np.exp(-z)) - target
            return float(loss.sum()), np.array([np.dot(resid, x), resid.sum()])

        prior_b = np.log((n_pos + 1) / (n_neg + 1))
        res = minimize(nll, x0=np.array([1.0, prior_b]), jac=True, method="L-BFGS-B")
        self.a_, self.b_ = float(res.x[0]), float(res.x[1])
        self.n_fit_ = int(y.size)
        return self

    def predict_proba(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, shape (n,)."""
        if self.a_ is None:
            raise RuntimeError("PlattCalibrator is not fitted; call fit(scores, labels) first")
        z = self.a_ * _logit(scores) + self.b_
        return 1 / (1 + np.exp(-z))

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready parameters."""
        return {"method": "platt", "a": self.a_, "b": self.b_, "n_fit": self.n_fit_,
                "formula": "p = 1 / (1 + exp(-(a * logit(s) + b)))"}

    @classmethod
    def from_dict(cls, data: dict) -> "PlattCalibrator":
        """Inverse of :meth:`to_dict`."""
        cal = cls()
        cal.a_, cal.b_, cal.n_fit_ = float(data["a"]), float(data["b"]), int(data.get("n_fit", 0))
        return cal
