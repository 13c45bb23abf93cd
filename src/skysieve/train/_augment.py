"""Random D4 augmentation of cutout batches (the group itself: :mod:`skysieve.data.dihedral`)."""

import numpy as np

from skysieve.data.dihedral import dihedral

__all__ = ["augment_batch", "dihedral"]


def augment_batch(images: np.ndarray, *, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Replace a random ``fraction`` of a batch by a random non-identity D4 transform of itself.

    Non-square cutouts use only the shape-preserving half of the group
    (180° turn and the two flips).

    Parameters
    ----------
    images : ndarray of shape (n, ny, nx, nchan)
    fraction : float in [0, 1]
        Probability that each cutout is transformed.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n, ny, nx, nchan)
        A new array; ``images`` is not modified.
    """
    n = images.shape[0]
    if fraction <= 0 or n == 0:
        return images
    chosen = rng.random(n) < fraction
    elements = np.arange(1, 8) if images.shape[1] == images.shape[2] else np.array([2, 4, 6])
    ks = rng.choice(elements, size=n)
    out = images.copy()
    for k in np.unique(ks[chosen]):
        sel = chosen & (ks == k)
        out[sel] = dihedral(images[sel], int(k))
    return out
