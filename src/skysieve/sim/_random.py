"""Random-number plumbing shared by the simulation modules (internal)."""

import numpy as np

__all__ = ["SeedLike", "as_generator"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed``.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        An integer or seed sequence starts a new PCG64 stream; a generator is
        used as is (so its state advances); ``None`` draws fresh OS entropy and
        is therefore not reproducible.
    """
    return np.random.default_rng(seed)
