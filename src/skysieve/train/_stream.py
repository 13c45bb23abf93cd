"""Batches streamed from the on-disk cutout tensor, one ``read`` per batch.

Memory holds one batch (plus Keras' prefetch queue), never the dataset.
"""

import math

import keras
import numpy as np

from skysieve.data.dataset import CutoutReader
from skysieve.data.targets import TargetReader, dense_targets, transpose_pairs
from skysieve.train._augment import augment_batch
from skysieve.train._dense import augment_pair

__all__ = ["TrainingBatches", "iter_batches"]


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled, optionally oversampled and augmented ``(x, y, w)`` training batches.

    Each epoch draws a new plan of ``steps × batch_size`` rows from a
    generator seeded by ``(seed, epoch)``, so an epoch is the same whatever the
    prefetching. Every batch has exactly ``batch_size`` cutouts (one traced
    graph).

    Parameters
    ----------
    dataset : CutoutDataset
    rows : ndarray of int
        Dataset rows to train on.
    batch_size : int
    seed : int
    steps : int or None
        Batches per epoch; default one pass over ``rows`` (``len(rows) // batch_size``).
    augment_fraction : float
        Probability that a cutout is replaced by a random flip / rotation.
    positive_fraction : float or None
        If set, each slot of the plan holds a positive with this probability
        (positives drawn with replacement, negatives cycled without): the
        effective negative:positive ratio ``r`` of DeepSZ is
        ``positive_fraction = 1 / (1 + r)``.
    class_weight : (float, float) or None
        Weights of negatives and positives, returned as sample weights.
    """

    def __init__(
        self,
        dataset,
        rows: np.ndarray,
        *,
        batch_size: int,
        seed: int,
        steps: int | None = None,
        augment_fraction: float = 0.0,
        positive_fraction: float | None = None,
        class_weight: tuple[float, float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.dataset = dataset
        self.reader = CutoutReader(dataset)
        self.rows = np.asarray(rows, dtype=np.int64)
        labels = dataset.labels[self.rows]
        self._pos, self._neg = self.rows[labels == 1], self.rows[labels == 0]
        self.batch_size = int(min(batch_size, self.rows.size))
        self.steps = int(steps) if steps else max(1, self.rows.size // self.batch_size)
        self.seed = int(seed)
        self.augment_fraction = float(augment_fraction)
        self.positive_fraction = positive_fraction
        self.class_weight = class_weight
        self.epoch = 0
        self._labels = dataset.labels
        self._plan = self._make_plan()
        targets = dense_targets(dataset)  # dense targets (heatmaps…) replace the label as y
        self._targets = TargetReader(targets) if targets is not None else None
        self._swap = transpose_pairs(targets.channels) if targets is not None else ()

    def _rng(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *keys])

    def _make_plan(self) -> np.ndarray:
        rng = self._rng(self.epoch)
        n = self.steps * self.batch_size
        if self.positive_fraction is None or self._pos.size == 0 or self._neg.size == 0:
            reps = math.ceil(n / self.rows.size)
            return np.concatenate([rng.permutation(self.rows) for _ in range(reps)])[:n]
        is_pos = rng.random(n) < self.positive_fraction
        plan = np.empty(n, dtype=np.int64)
        plan[is_pos] = rng.choice(self._pos, size=int(is_pos.sum()), replace=True)
        n_neg = n - int(is_pos.sum())
        reps = math.ceil(n_neg / self._neg.size)
        plan[~is_pos] = np.concatenate([rng.permutation(self._neg) for _ in range(reps)])[:n_neg]
        return plan

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int):
        rows = self._plan[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.reader.read(rows)
        if self._targets is not None:
            return self._dense_item(index, rows, x)
        if self.augment_fraction > 0:
            x = augment_batch(x, fraction=self.augment_fraction, rng=self._rng(self.epoch, index))
        y = self._labels[rows].astype(np.float32)[:, None]
        if self.class_weight is None:
            return x, y
        w = np.where(y[:, 0] > 0.5, self.class_weight[1], self.class_weight[0]).astype(np.float32)
        return x, y, w

    def _dense_item(self, index: int, rows: np.ndarray, x: np.ndarray):
        y = self._targets.read(rows)
        if self.augment_fraction > 0:
            x, y = augment_pair(x, y, fraction=self.augment_fraction, rng=self._rng(self.epoch, index),
                                swap=self._swap)
        if self.class_weight is None:
            return x, y
        w = np.where(self._labels[rows] > 0, self.class_weight[1], self.class_weight[0]).astype(np.float32)
        return x, y, w

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._plan = self._make_plan()

    def start_at(self, epoch: int) -> None:
        """Make the next epoch number ``epoch`` (a fit resumed from a checkpoint draws the same batches)."""
        self.epoch = int(epoch)
        self._plan = self._make_plan()


def iter_batches(dataset, rows: np.ndarray, *, batch_size: int, reader: CutoutReader | None = None):
    """Yield ``(x, n_valid)`` over ``rows`` in order, every ``x`` padded to one batch shape.

    Padding (zeros) keeps one traced prediction graph; callers keep the first
    ``n_valid`` outputs.

    ``reader`` reuses an open :class:`CutoutReader`.

    Yields
    ------
    x : ndarray of shape (batch, ny, nx, nchan), float32
    n_valid : int
    """
    own = reader is None
    reader = reader or CutoutReader(dataset)
    rows = np.asarray(rows, dtype=np.int64)
    batch = max(1, min(batch_size, rows.size))
    try:
        for start in range(0, rows.size, batch):
            chunk = rows[start : start + batch]
            x = reader.read(chunk)
            if chunk.size < batch:
                x = np.concatenate([x, np.zeros((batch - chunk.size, *x.shape[1:]), dtype=x.dtype)])
            yield x, chunk.size
    finally:
        if own:
            reader.close()
