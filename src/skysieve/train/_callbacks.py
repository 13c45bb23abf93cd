"""The Keras callbacks of one fit: learning-rate warm-up, the plateau schedule, validation metrics, epoch hooks.

``_stages`` splits the epochs between the curriculum's class ratios.
"""

from collections.abc import Mapping

import keras
import numpy as np

from skysieve.config import TrainParams
from skysieve.train._checkpoint import EpochState, FoldCheckpoint
from skysieve.train._ensemble import predict_dataset
from skysieve.train._metrics import METRICS, binary_log_loss

__all__ = ["_EpochEnd", "_Monitor", "_Plateau", "_Warmup", "_stages"]


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
    """Scores the validation rows each epoch, keeps the best weights by ``val_loss``, stops early.

    Runs first among the callbacks and writes its numbers into ``logs`` so
    ``ReduceLROnPlateau`` sees ``val_loss``.
    """

    def __init__(self, *, dataset, rows, labels, weights, batch_size, patience, step0, ratio, stage):
        super().__init__()
        self.dataset, self.rows, self.labels, self.weights = dataset, rows, labels, weights
        self.batch_size, self.patience = batch_size, patience
        self.step, self.ratio, self.stage = step0, ratio, stage
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
        scores = predict_dataset(self.model, self.dataset, self.rows, batch_size=self.batch_size)
        record = {"loss": float(logs.get("loss", np.nan)),
                  "val_loss": binary_log_loss(self.labels, scores, sample_weight=self.weights),
                  "val_log_loss": binary_log_loss(self.labels, scores),
                  **{f"val_{k}": fn(self.labels, scores) for k, fn in METRICS.items()},
                  "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                  "ratio": float(self.ratio) if self.ratio is not None else float("nan"),
                  "stage": float(self.stage)}
        logs.update({k: v for k, v in record.items() if k.startswith("val_")})
        self.history.append(record)
        if record["val_loss"] < self.best_loss:
            self.best_loss, self.best_index, self.wait = record["val_loss"], len(self.history) - 1, 0
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


