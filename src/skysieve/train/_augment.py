"""The dihedral group D4 on square cutouts: 4 right-angle rotations × optional flip."""

import numpy as np

__all__ = ["augment_batch", "dihedral"]


def dihedral(images: np.ndarray, k: int) -> np.ndarray:
    """Apply element ``k`` (0–7) of D4 to a batch.

    ``k % 4`` quarter turns in the (y, x) plane, then a left-right flip if
    ``k >= 4``; ``k = 0`` is the identity.

    Parameters
    ----------
    images : ndarray of shape (n, ny, nx, nchan)
    k : int

    Returns
    -------
    ndarray of shape (n, ny, nx, nchan) (ny and nx swap for odd ``k`` on
    rectangular input)
    """
    out = np.rot90(images, k % 4, axes=(1, 2))
    if k >= 4:
        out = out[:, :, ::-1]
    return out


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
