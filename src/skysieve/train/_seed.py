"""One seed for Python, NumPy and the Keras backend."""

__all__ = ["set_seeds"]


def set_seeds(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global state and the Keras backend.

    Parameters
    ----------
    seed : int
        From params (``train_<task>.seed``); fold ``i`` uses ``seed + i``.
    """
    import keras

    keras.utils.set_random_seed(int(seed))
