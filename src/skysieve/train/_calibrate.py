"""Calibration: Platt scaling of binary scores (Platt 1999), temperature scaling of softmax outputs (Guo et al. 2017)."""

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import softmax

__all__ = ["PlattCalibrator", "bake_temperature", "fit_temperature", "temper"]

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


def temper(p: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities ``p`` at temperature ``T``: ``p_T,k = p_k^(1/T) / Σ_j p_j^(1/T)``.

    For ``p = softmax(z)``, ``log p = z − logsumexp(z)``, and the row constant
    cancels in the softmax, so ``p_T = softmax(z / T)`` — temperature
    scaling needs the probabilities only, not the logits. ``T > 1`` softens,
    ``T < 1`` sharpens, ``T = 1`` is the identity.
    """
    return softmax(np.log(np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0)) / float(temperature), axis=1)


def fit_temperature(p: np.ndarray, y: np.ndarray, *, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature minimising the cross-entropy of ``temper(p, T)`` against targets ``y`` (Guo et al. 2017).

        T* = argmin_T  −(1/N) Σ_i Σ_k y_ik log p_T,ik

    with ``y`` one-hot labels or soft targets (vote fractions): on soft
    targets the minimum is where the tempered probabilities are as sharp as
    the votes.  One parameter, so it cannot change which class is most
    probable — only how confident the probabilities are.  Searched on
    ``log T`` within ``bounds`` (bounded Brent).
    """
    y = np.asarray(y, dtype=np.float64)

    def loss(log_t: float) -> float:
        return float(-np.mean(np.sum(y * np.log(np.clip(temper(p, np.exp(log_t)), _EPS, 1.0)), axis=1)))

    res = minimize_scalar(loss, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                          options={"xatol": 1e-6})
    return float(np.exp(res.x))


def bake_temperature(model, temperature: float) -> None:
    """Divide the logits of ``model``'s final softmax ``Dense`` layer by ``temperature``, in place.

    ``softmax((W x + b) / T) = softmax((W / T) x + b / T)``: the network itself
    then outputs the tempered probabilities, so every consumer of the saved or
    registered model (evaluation, catalog) gets them with no extra step.

    Raises
    ------
    ValueError
        The last layer is not a ``Dense`` layer with a softmax activation.
    """
    import keras

    layer = model.layers[-1]
    if not isinstance(layer, keras.layers.Dense) or layer.activation is not keras.activations.softmax:
        raise ValueError(f"bake_temperature: the last layer {layer.name!r} is not a softmax Dense layer; "
                         "temper the probabilities with temper() instead")
    layer.set_weights([w / float(temperature) for w in layer.get_weights()])
