"""Losses found by name (``@register_loss``), for datasets with dense targets (:mod:`skysieve.data.targets`)."""

from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from skysieve.errors import ConfigError

__all__ = ["available_losses", "centre_heatmap_loss", "get_loss", "register_loss"]

_LOSSES: dict[str, Callable[..., Any]] = {}


def register_loss(name: str) -> Callable:
    """Register ``loss(y_true, y_pred) -> (batch,)`` under ``name`` (the ``loss`` attribute of dense targets)."""

    def decorator(fn):
        if name in _LOSSES and _LOSSES[name] is not fn:
            raise ValueError(f"loss {name!r} is already registered by {_LOSSES[name].__qualname__}")
        _LOSSES[name] = fn
        return fn

    return decorator


def available_losses() -> tuple[str, ...]:
    """Names of the registered losses, sorted."""
    return tuple(sorted(_LOSSES))


def get_loss(name: str):
    """The loss registered under ``name``.

    Raises
    ------
    ConfigError
        If no loss has that name; the message lists the known ones.
    """
    try:
        return _LOSSES[name]
    except KeyError:
        raise ConfigError(f"targets.loss: unknown loss {name!r}; registered: {', '.join(available_losses())}; "
                          "rewrite the dataset's targets with a registered loss name") from None


@register_loss("centre_heatmap")
@keras.saving.register_keras_serializable(package="skysieve")
def centre_heatmap_loss(y_true, y_pred, alpha: float = 2.0, beta: float = 4.0, size_weight: float = 0.1):
    r"""CenterNet's penalty-reduced focal loss on a centre heatmap plus an L1 box-size loss at the centres.

    Channel 0 of both tensors is the heatmap: the target :math:`Y` is 1 at
    each object's centre pixel and a Gaussian bump around it, the prediction
    :math:`P` a probability.  Channels 1–2 are the log box width and height
    (output pixels), learned only at the centres (:math:`Y = 1`).

    .. math::

        L = \frac{-1}{\max(N, 1)} \sum_{xy} \begin{cases}
              (1 - P)^\alpha \log P & Y = 1 \\
              (1 - Y)^\beta P^\alpha \log (1 - P) & \text{otherwise}
            \end{cases}
            \; + \; \lambda \frac{1}{\max(N, 1)} \sum_{Y = 1} |s - \hat s|_1

    with :math:`N` the number of centres in the cutout (Zhou et al. 2019,
    eq. 1; Law & Deng 2018).

    Parameters
    ----------
    y_true, y_pred : tensors of shape (batch, ty, tx, 3)
    alpha, beta : float
    size_weight : float
        :math:`\lambda`.

    Returns
    -------
    tensor of shape (batch,)
    """
    eps = 1e-6
    y_true = ops.cast(y_true, y_pred.dtype)
    heat_t, heat_p = y_true[..., 0], ops.clip(y_pred[..., 0], eps, 1.0 - eps)
    centre = ops.cast(ops.greater_equal(heat_t, 1.0 - 1e-4), y_pred.dtype)
    pos = centre * ops.power(1.0 - heat_p, alpha) * ops.log(heat_p)
    neg = (1.0 - centre) * ops.power(1.0 - heat_t, beta) * ops.power(heat_p, alpha) * ops.log(1.0 - heat_p)
    n = ops.maximum(ops.sum(centre, axis=(1, 2)), 1.0)
    focal = -ops.sum(pos + neg, axis=(1, 2)) / n
    size = ops.sum(ops.abs(y_true[..., 1:] - y_pred[..., 1:]), axis=-1) * centre
    return focal + size_weight * ops.sum(size, axis=(1, 2)) / n
