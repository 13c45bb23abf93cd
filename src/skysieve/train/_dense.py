"""Training on dense targets (:mod:`skysieve.data.targets`): the loss to compile, paired augmentation.

A binary dataset compiles with binary cross-entropy and trains on ``label``;
a dataset with dense targets compiles with the loss its targets name and
trains on the target maps, each cutout and its map flipped and rotated
together.
"""

import numpy as np

from skysieve.data.targets import dense_targets
from skysieve.train._augment import dihedral

__all__ = ["augment_pair", "training_loss"]


def training_loss(dataset):
    """The loss to compile a model for ``dataset`` with: ``"binary_crossentropy"`` or the targets' registered loss."""
    targets = dense_targets(dataset)
    if targets is None:
        return "binary_crossentropy"
    from skysieve.nets._losses import get_loss

    return get_loss(targets.loss)


def augment_pair(images: np.ndarray, targets: np.ndarray, *, fraction: float, rng: np.random.Generator,
                 swap: tuple[tuple[int, int], ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """:func:`skysieve.train.augment_batch` for a cutout batch and its target maps: the same D4 element on both.

    An odd number of quarter turns exchanges the x and y axes, so the target
    channels of each ``swap`` pair (a box's width and height,
    :func:`skysieve.data.transpose_pairs`) trade places there.

    Parameters
    ----------
    images : ndarray of shape (n, ny, nx, nchan)
    targets : ndarray of shape (n, ty, tx, tc)
        Target maps on a grid ``stride`` times coarser, aligned with the cutout.
    fraction : float in [0, 1]
    rng : numpy.random.Generator
    swap : tuple of (int, int)
        Target channel pairs swapped by a quarter turn.

    Returns
    -------
    images, targets : new arrays
    """
    n = images.shape[0]
    if fraction <= 0 or n == 0:
        return images, targets
    chosen = rng.random(n) < fraction
    square = images.shape[1] == images.shape[2] and targets.shape[1] == targets.shape[2]
    elements = np.arange(1, 8) if square else np.array([2, 4, 6])
    ks = rng.choice(elements, size=n)
    x, y = images.copy(), targets.copy()
    for k in np.unique(ks[chosen]):
        sel = chosen & (ks == k)
        x[sel] = dihedral(images[sel], int(k))
        t = dihedral(targets[sel], int(k))
        if k % 2:
            for a, b in swap:
                t[..., [a, b]] = t[..., [b, a]]
        y[sel] = t
    return x, y
