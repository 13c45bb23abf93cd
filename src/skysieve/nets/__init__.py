"""CNN architectures (Keras 3, backend-agnostic) and their registry.

Params choose an architecture by name (``net.name``); a later task adds its
own with ``@register_net("name")`` on a ``build_<name>(cfg, *, inputs, seed)``
function.
"""

from skysieve.nets._centre import build_centre_net
from skysieve.nets._layers import (
    AsinhStretch,
    ChannelSlice,
    ColourDifference,
    CutoutCentering,
    input_layers,
    preprocess,
    ring_indices,
    ring_pairs,
    standardize,
)
from skysieve.nets._losses import available_losses, centre_heatmap_loss, get_loss, register_loss
from skysieve.nets._receptive import receptive_field_px
from skysieve.nets._registry import InputSpec, available_nets, build_net, get_net, register_net
from skysieve.nets._resnet import build_resnet_small
from skysieve.nets._vgg import build_sc_vgg, build_vgg

__all__ = [
    "AsinhStretch",
    "ChannelSlice",
    "ColourDifference",
    "CutoutCentering",
    "InputSpec",
    "available_losses",
    "available_nets",
    "build_centre_net",
    "build_net",
    "centre_heatmap_loss",
    "build_resnet_small",
    "build_sc_vgg",
    "build_vgg",
    "get_loss",
    "get_net",
    "input_layers",
    "preprocess",
    "receptive_field_px",
    "register_loss",
    "register_net",
    "ring_indices",
    "ring_pairs",
    "standardize",
]
