"""The dihedral group D4 of the square: 4 right-angle rotations × an optional flip (numpy only).

Used by the training augmentation (:mod:`skysieve.train`) and by a search's
test-time augmentation; kept out of :mod:`skysieve.train` so that scoring code
can use it without importing the training engine.
"""

import numpy as np

__all__ = ["dihedral"]


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
