"""One seed for Python, NumPy and the Keras backend; per-fit seeds for a compiled network's dropout."""

import numpy as np

__all__ = ["reseed_generators", "set_seeds"]


def set_seeds(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global state and the Keras backend.

    Call it before building a network: Keras initialisers created without a
    seed draw theirs from Python's ``random``, so an unseeded build starts
    from other weights in every process.

    Parameters
    ----------
    seed : int
        From params (``train_<task>.seed``); fold ``i`` uses ``seed + i``.
    """
    import keras

    keras.utils.set_random_seed(int(seed))


def reseed_generators(model, seed: int) -> int:
    """Restart every ``keras.random.SeedGenerator`` of ``model`` (dropout, noise layers) from ``seed``.

    A seed generator's state ``[s, n]`` advances by one per call, so a
    network fitted twice would draw other dropout masks the second time.
    Setting generator ``i`` to ``[h(seed, i), 0]`` (``h`` from
    :class:`numpy.random.SeedSequence`) makes a fit depend on ``seed`` only,
    not on the fits before it — without :func:`set_seeds`, whose new global
    TensorFlow seed would make the compiled training step retrace.

    Returns
    -------
    int
        How many generators were reset.
    """
    states = [v for v in model.variables if v.name == "seed_generator_state"]
    if not states:
        return 0
    values = np.random.SeedSequence([int(seed), 0x5EED]).generate_state(len(states), dtype=np.uint32) >> 1
    for value, state in zip(values, states):
        state.assign(np.array([value, 0]).astype(state.dtype))
    return len(states)
