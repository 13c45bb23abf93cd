"""The architecture registry: builders found by name, filled by :func:`register_net`."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skysieve.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import keras
    import numpy as np

__all__ = ["InputSpec", "Builder", "available_nets", "build_net", "get_net", "register_net"]


@dataclass(frozen=True)
class InputSpec:
    """What a builder needs to know about its input.

    Attributes
    ----------
    shape : tuple of int
        (ny, nx, nchan) of one cutout.
    mean, variance : ndarray of shape (nchan,)
        Per-channel statistics of the training cutouts; the model standardises
        its input with them (a ``keras.layers.Normalization`` layer), so raw
        µK_CMB (or counts) go in and the statistics travel with the model.
    channels : tuple of str
        Band names in channel order (kept for the model's name and metadata).
    """

    shape: tuple[int, int, int]
    mean: "np.ndarray"
    variance: "np.ndarray"
    channels: tuple[str, ...] = ()


Builder = Callable[..., "keras.Model"]
_REGISTRY: dict[str, Builder] = {}


def register_net(name: str) -> Callable[[Builder], Builder]:
    """Register ``build_<name>(cfg, *, inputs, seed) -> keras.Model`` under ``name``.

    Used as a decorator: ``@register_net("resnet_small")``. The ``name`` is the
    value of ``net.name`` in params.
    """

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY and _REGISTRY[name] is not builder:
            raise ValueError(f"architecture {name!r} is already registered by {_REGISTRY[name].__qualname__}")
        _REGISTRY[name] = builder
        return builder

    return decorator


def available_nets() -> tuple[str, ...]:
    """Names of the registered architectures, sorted."""
    _load_builtin()
    return tuple(sorted(_REGISTRY))


def get_net(name: str) -> Builder:
    """The builder registered under ``name``.

    Raises
    ------
    ConfigError
        If no architecture has that name; the message lists the known ones.
    """
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"net.name: unknown architecture {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        ) from None


def build_net(cfg: Any, *, inputs: InputSpec, seed: int) -> "keras.Model":
    """Build the architecture ``cfg.name`` with its section ``cfg``.

    Parameters
    ----------
    cfg : a ``NetParams`` section
        Its ``name`` picks the builder.
    inputs : InputSpec
        Input shape and per-channel normalisation.
    seed : int
        Seed of the layers' own randomness (dropout).

    Returns
    -------
    keras.Model
        Input (batch, ny, nx, nchan) raw pixels; output (batch, 1), the
        probability of the positive class.
    """
    return get_net(cfg.name)(cfg, inputs=inputs, seed=seed)


def _load_builtin() -> None:
    # Importing the builder modules runs their @register_net decorators.
    from skysieve.nets import _centre, _resnet, _vgg  # noqa: F401
