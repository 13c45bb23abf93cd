"""A search that offers the engine validation metrics on the tiny dataset, for tests of ``train_<task>.monitor``.

Registered through ``$SKYSIEVE_TASKS=tests.train._probe:search`` so a spawned
process finds it too.  Its metrics are module-level functions, as the
contract requires.
"""

from types import MappingProxyType

import numpy as np

from skysieve.tasks import Search


def neg_log_loss_score(outputs: np.ndarray, dataset, rows: np.ndarray) -> float:
    """Minus the validation log-loss: agrees with the engine's default at every epoch."""
    return -log_loss_score(outputs, dataset, rows)


def log_loss_score(outputs: np.ndarray, dataset, rows: np.ndarray) -> float:
    """The validation log-loss taken as higher-is-better: disagrees with the default (it prefers the worst epoch)."""
    from skysieve.train._ensemble import outputs_proba  # the search module itself stays free of Keras
    from skysieve.train._metrics import binary_log_loss

    return binary_log_loss(dataset.labels[rows], outputs_proba(outputs))


class ProbeSearch(Search):
    """Nothing but validation metrics."""

    name = "probe"
    title = "validation-metric probe (tests)"
    validation_metrics = MappingProxyType({"neg_log_loss": "tests.train._probe:neg_log_loss_score",
                                           "log_loss_up": "tests.train._probe:log_loss_score",
                                           "f1": "tests.train._probe:log_loss_score",
                                           "gone": "tests.train._probe:no_such_function"})

    def sections(self):
        return ()

    def stages(self):
        return ()


search = ProbeSearch()


def resolve_and_score(monitor: str, outputs: np.ndarray, data_dir: str, rows: np.ndarray) -> tuple[str, float]:
    """In a fresh process: find ``monitor``'s function by name and score ``outputs`` with it."""
    from skysieve.data.dataset import open_dataset
    from skysieve.train._callbacks import search_metric

    name, fn = search_metric(monitor)
    return f"{fn.__module__}:{fn.__qualname__}", float(fn(outputs, open_dataset(data_dir), rows))
