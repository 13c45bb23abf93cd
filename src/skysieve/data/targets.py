"""Dense training targets beside the cutout tensor: maps a network learns pixel by pixel (heatmaps, boxes).

The binary contract (``label`` per cutout) is the default.  A dataset may
also hold, in ``cutouts.h5``, a dataset ``targets`` of shape
(n, ty, tx, tc), float32, chunked by cutout like ``images``, row ``i`` the
target map of cutout ``i``.  Its attributes say how to learn it:

* ``loss`` — the name of a loss registered with
  :func:`skysieve.nets.register_loss` (``centre_heatmap``);
* ``stride`` — input pixels per target pixel (``ny == ty * stride``);
* ``channels`` — names of the target channels. A channel named
  ``<prefix>width`` and one named ``<prefix>height`` are the x and y extents
  of one quantity (:func:`transpose_pairs`): a quarter turn swaps them.

The training engine then fits the network to the targets with that loss
(instead of binary cross-entropy on ``label``) and applies the same flips and
rotations to a cutout and its target map, swapping each width/height pair
after a quarter turn.  The per-cutout ``label`` stays
(1 if the cutout holds an object): the engine's per-epoch validation, fold
metrics, tuning objective and Platt calibration score each cutout by the
maximum of the first target channel the network predicts (its score map).
"""

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from skysieve.data.dataset import H5Rows
from skysieve.errors import DataError

__all__ = ["TARGETS_KEY", "DenseTargets", "TargetReader", "dense_targets", "transpose_pairs", "write_dense_targets"]

TARGETS_KEY = "targets"


@dataclass(frozen=True)
class DenseTargets:
    """What a dataset's dense targets are.

    Attributes
    ----------
    path : Path
        The ``cutouts.h5`` holding them.
    shape : tuple of int
        (n, ty, tx, tc).
    loss : str
        Registered loss name.
    stride : int
        Input pixels per target pixel.
    channels : tuple of str
    """

    path: Path
    shape: tuple[int, ...]
    loss: str
    stride: int
    channels: tuple[str, ...]


def transpose_pairs(channels) -> tuple[tuple[int, int], ...]:
    """Index pairs of the channels a transposition of the map swaps: ``<prefix>width`` with ``<prefix>height``.

    >>> transpose_pairs(("heatmap", "log_width", "log_height"))
    ((1, 2),)
    """
    names = [str(c) for c in channels]
    return tuple((i, names.index(n[: -len("width")] + "height")) for i, n in enumerate(names)
                 if n.endswith("width") and n[: -len("width")] + "height" in names)


def dense_targets(dataset) -> DenseTargets | None:
    """The dense targets of a :class:`~skysieve.data.CutoutDataset`, or ``None`` for a binary dataset.

    Raises
    ------
    DataError
        The targets exist but lack ``loss``/``stride``, or their count or
        spatial size disagrees with the cutouts.
    """
    path = Path(dataset.tensor_path)
    with h5py.File(path, "r") as h5:
        if TARGETS_KEY not in h5:
            return None
        ds = h5[TARGETS_KEY]
        shape = tuple(int(s) for s in ds.shape)
        loss, stride = ds.attrs.get("loss"), ds.attrs.get("stride")
        channels = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in ds.attrs.get("channels", ()))
    if loss is None or stride is None:
        raise DataError(f"{path}: dataset '{TARGETS_KEY}' lacks the attribute 'loss' or 'stride'; write it with "
                        "skysieve.data.write_dense_targets")
    loss = loss.decode() if isinstance(loss, bytes) else str(loss)
    stride = int(stride)
    n, ny, nx = dataset.shape[:3]
    if len(shape) != 4 or shape[0] != n or shape[1] * stride != ny or shape[2] * stride != nx:
        raise DataError(f"{path}: targets of shape {shape} with stride {stride} do not fit cutouts of shape "
                        f"{tuple(dataset.shape)}; expected ({n}, {ny // max(stride, 1)}, {nx // max(stride, 1)}, tc)")
    return DenseTargets(path, shape, loss, stride, channels)


def write_dense_targets(h5: h5py.File, targets: np.ndarray, *, loss: str, stride: int,
                        channels: tuple[str, ...] | list[str]) -> None:
    """Write ``targets`` (n, ty, tx, tc) into an open ``cutouts.h5``, chunked by cutout, with their attributes."""
    targets = np.asarray(targets, dtype=np.float32)
    if targets.ndim != 4 or targets.shape[-1] != len(channels):
        raise ValueError(f"targets must be (n, ty, tx, {len(channels)}); got {targets.shape}")
    ds = h5.create_dataset(TARGETS_KEY, data=targets, chunks=(1, *targets.shape[1:]))
    ds.attrs["loss"] = str(loss)
    ds.attrs["stride"] = int(stride)
    ds.attrs["channels"] = [str(c) for c in channels]


class TargetReader(H5Rows):
    """Reads rows of the target maps, (len(rows), ty, tx, tc) float32, through one HDF5 handle (:class:`H5Rows`)."""

    def __init__(self, targets: DenseTargets):
        super().__init__(targets.path, TARGETS_KEY)
