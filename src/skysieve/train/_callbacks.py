"""The Keras callbacks of one fit: learning-rate warm-up, the plateau schedule, validation metrics, epoch hooks.

``_stages`` splits the epochs between the curriculum's class ratios;
``search_metric`` finds the validation metric ``train_<task>.monitor`` names.
"""

from collections.abc import Callable, Mapping

import keras
import numpy as np

from skysieve.config import TrainParams
from skysieve.errors import ConfigError
from skysieve.train._checkpoint import EpochState, FoldCheckpoint
from skysieve.train._ensemble import outputs_proba, predict_dataset, predict_outputs
from skysieve.train._metrics import METRICS, binary_log_loss

__all__ = ["_EpochEnd", "_Monitor", "_Plateau", "_Warmup", "_stages", "search_metric"]

#: Keys of the engine's own per-epoch record; a search's metric may not take one of these names.
_RESERVED = frozenset({"loss", "log_loss", *METRICS})


def search_metric(monitor: str) -> tuple[str, Callable[..., float]] | None:
    """The search's validation metric that ``monitor`` (``train_<task>.monitor``) names, or None for ``val_loss``.

    ``<search>.<metric>`` is looked up in the search registry by name
    (:meth:`skysieve.tasks.Search.validation_metric`), so a fold trained in a
    fresh process finds the same module-level function.

    Returns
    -------
    (name, fn) or None
        ``fn(outputs, dataset, rows) -> float``, higher is better; it is logged as ``val_<name>``.

    Raises
    ------
    ConfigError
        No such search or metric, or a metric named like one of the engine's.
    """
    if monitor == "val_loss":
        return None
    from skysieve.tasks import get_search  # the registry, never a search by name

    search, _, name = monitor.partition(".")
    if name in _RESERVED:
        raise ConfigError(f"monitor: {monitor!r}: '{name}' is one of the engine's own validation metrics "
                          f"({', '.join(sorted(_RESERVED))}); rename the search's metric")
    return name, get_search(search).validation_metric(name)


class _Warmup(keras.callbacks.Callback):
    """Linear learning-rate warm-up from ``start_factor × lr`` to ``lr`` over the first ``steps`` batches."""

    def __init__(self, lr: float, steps: int, start_factor: float, *, seen: int = 0):
        super().__init__()
        self.lr, self.steps, self.start_factor, self.seen = lr, steps, start_factor, seen

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen <= self.steps:
            frac = min(1.0, self.seen / max(self.steps, 1))
            self.model.optimizer.learning_rate = self.lr * (self.start_factor + (1 - self.start_factor) * frac)
        self.seen += 1


class _Plateau(keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` that can start from saved counters (a resumed fit)."""

    _STATE = ("wait", "best", "cooldown_counter")

    def __init__(self, *, state: Mapping[str, float] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._initial = dict(state or {})

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        for key, value in self._initial.items():
            setattr(self, key, value)

    def state(self) -> dict[str, float]:
        return {key: float(getattr(self, key)) for key in self._STATE}


class _Monitor(keras.callbacks.Callback):
    """Scores the validation rows each epoch, keeps the best weights by :attr:`key`, stops early.

    Runs first among the callbacks and writes its numbers into ``logs`` so
    ``ReduceLROnPlateau`` sees :attr:`key` (in :attr:`mode`). :attr:`key` is
    ``val_loss`` unless ``metric`` — a search's ``(name, fn)`` from
    :func:`search_metric` — is given: then ``fn`` scores the model's raw
    outputs on the validation rows every epoch, is recorded as
    ``val_<name>`` and is followed instead (higher better; ``best_loss``
    then holds its negative, so checkpoints keep one meaning: lower is better).
    """

    def __init__(self, *, dataset, rows, labels, weights, batch_size, patience, step0, ratio, stage, metric=None):
        super().__init__()
        self.dataset, self.rows, self.labels, self.weights = dataset, rows, labels, weights
        self.batch_size, self.patience = batch_size, patience
        self.step, self.ratio, self.stage = step0, ratio, stage
        self.metric = metric
        self.key, self.mode = ("val_loss", "min") if metric is None else (f"val_{metric[0]}", "max")
        self.history: list[dict[str, float]] = []
        self.best_loss, self.best_weights, self.best_index, self.wait = np.inf, None, -1, 0

    def restore(self, state: EpochState) -> None:
        """Continue the stage a checkpoint was taken in."""
        self.history = list(state.history[state.stage_start:])
        self.best_loss, self.best_index, self.wait = state.best_loss, state.best_index, state.wait
        self.best_weights = list(state.best_weights)
        self.step = state.step

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.metric is None:
            scores = predict_dataset(self.model, self.dataset, self.rows, batch_size=self.batch_size)
        else:
            outputs = predict_outputs(self.model, self.dataset, self.rows, batch_size=self.batch_size)
            scores = outputs_proba(outputs)
        record = {"loss": float(logs.get("loss", np.nan)),
                  "val_loss": binary_log_loss(self.labels, scores, sample_weight=self.weights),
                  "val_log_loss": binary_log_loss(self.labels, scores),
                  **{f"val_{k}": fn(self.labels, scores) for k, fn in METRICS.items()},
                  "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                  "ratio": float(self.ratio) if self.ratio is not None else float("nan"),
                  "stage": float(self.stage)}
        if self.metric is not None:
            record[self.key] = float(self.metric[1](outputs, self.dataset, self.rows))
        logs.update({k: v for k, v in record.items() if k.startswith("val_")})
        self.history.append(record)
        value = record["val_loss"] if self.metric is None else -record[self.key]
        if value < self.best_loss:
            self.best_loss, self.best_index, self.wait = value, len(self.history) - 1, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True
        self.step += 1


class _EpochEnd(keras.callbacks.Callback):
    """Runs last each epoch: writes the checkpoint (if any), then tells ``on_epoch`` (which may raise).

    The checkpoint comes first so that an epoch reported is an epoch saved.
    """

    def __init__(self, monitor: _Monitor, *, on_epoch, checkpoint: FoldCheckpoint | None, snapshot):
        super().__init__()
        self.monitor, self.on_epoch, self.checkpoint, self.snapshot = monitor, on_epoch, checkpoint, snapshot

    def on_epoch_end(self, epoch, logs=None):
        if self.checkpoint is not None and self.checkpoint.every_epoch:
            self.checkpoint.save_epoch(self.model, self.snapshot(epoch, bool(self.model.stop_training)))
        if self.on_epoch is not None:
            self.on_epoch(self.monitor.step - 1, self.monitor.history[-1])


def _stages(cfg: TrainParams) -> list[float | None]:
    if cfg.imbalance.strategy == "curriculum":
        return list(cfg.imbalance.curriculum_ratios)
    if cfg.imbalance.strategy == "oversample":
        return [cfg.imbalance.ratio]
    return [None]


