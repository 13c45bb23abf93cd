"""Training on soft multi-class targets (probability vectors), and transfer from a registered model.

The binary engine (:mod:`skysieve.train._engine`) learns 0/1 labels; this
module learns rows of class probabilities — vote fractions, mixed labels,
distillation targets — with a softmax output and the cross-entropy

    L = −(1/N) Σ_i Σ_k y_ik log p_ik,

which is minimised at p = y for any target vector y on the simplex.  A
search declares its target columns and calls :func:`fit_soft`; nothing here
knows the search.  :func:`freeze_blocks` freezes the first ``depth`` blocks of
a transferred network (Yosinski et al. 2014);
:func:`skysieve.registry.load_transfer_source` gives the network to start from.
"""

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import keras
import numpy as np
from scipy import ndimage

from skysieve.errors import DataError
from skysieve.train._compile import compile_built
from skysieve.train._seed import reseed_generators

__all__ = ["SoftFitResult", "SoftTrainer", "augment_stamps", "fit_soft", "freeze_blocks", "predict_soft",
           "soft_targets"]


def soft_targets(table, columns: Sequence[str], *, where: str = "catalog", atol: float = 1e-4) -> np.ndarray:
    """The (n, k) target matrix from ``columns`` of a table, checked to be probability vectors.

    Raises
    ------
    DataError
        A column is missing, a value is not finite or outside [0, 1], or a
        row does not sum to one within ``atol`` (naming the first bad row).
    """
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        raise DataError(f"{where}: missing target columns {missing}; expected {list(columns)}")
    y = np.stack([np.asarray(table[c], dtype=np.float64) for c in columns], axis=1)
    bad = ~np.isfinite(y).all(axis=1) | (y < -atol).any(axis=1) | (y > 1 + atol).any(axis=1)
    sums = y.sum(axis=1)
    bad |= np.abs(sums - 1) > atol
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where}: {int(bad.sum())} rows of {list(columns)} are not probability vectors (row {i}: "
                        f"{np.round(y[i], 4).tolist()}, sum {sums[i]:.4f}); targets must be finite, in [0, 1] and "
                        "sum to 1 — fix or drop those rows")
    return y.astype(np.float32)


def augment_stamps(x: np.ndarray, *, rng: np.random.Generator, rotate: bool, flip: bool,
                   shift_px: int) -> np.ndarray:
    """Randomly perturbed copies of (n, ny, nx, nchan) stamps: rotations by any angle, flips, integer shifts.

    Rotation is bilinear about the centre with mirrored edges (``scipy.ndimage.rotate``);
    shifts are uniform in [−shift_px, shift_px] per axis, mirrored at the edge.
    """
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        img = x[i]
        if rotate:
            img = ndimage.rotate(img, rng.uniform(0, 360), axes=(0, 1), reshape=False, order=1, mode="mirror")
        if flip and rng.random() < 0.5:
            img = img[:, ::-1]
        if shift_px:
            dy, dx = rng.integers(-shift_px, shift_px + 1, size=2)
            img = ndimage.shift(img, (dy, dx, 0), order=0, mode="mirror")
        out[i] = img
    return out


class _Batches:
    def __init__(self, x, y, *, batch_size: int, seed: int, augment: Callable | None):
        self.x, self.y, self.batch_size, self.augment = x, y, batch_size, augment
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        # every batch has exactly batch_size rows (the order wraps around), so the traced step never retraces
        take = np.arange(i * self.batch_size, (i + 1) * self.batch_size) % len(self.order)
        rows = np.sort(self.order[take])
        xb = self.x[rows]
        if self.augment is not None:
            xb = self.augment(xb, rng=self.rng)
        return xb, self.y[rows]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))

    def epochs(self, n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every batch of ``n`` epochs in order, reshuffling between epochs (the training sequence)."""
        for _ in range(n):
            for i in range(len(self)):
                yield self[i]
            self.on_epoch_end()


class _Prefetch:
    """The batches of :meth:`_Batches.epochs` made on a background thread, ``depth`` ahead of the training step.

    Augmenting a batch (rotations with ``scipy.ndimage``) takes about a fifth of
    a training step of the morphology net and ran between steps, with the
    cores idle for TensorFlow.  Here one thread makes the batches in the same
    order, from the same generator, as the serial loop, so the fit is the
    same to the last bit (``tests/train/test_soft.py``); a fit that stops
    early leaves the thread's extra batches unused.  An error in the thread
    is raised in the caller.
    """

    def __init__(self, batches: _Batches, epochs: int, *, depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(batches, epochs), daemon=True,
                                        name="skysieve-batches")
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, batches: _Batches, epochs: int) -> None:
        try:
            for item in batches.epochs(epochs):
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the training loop, which raises it
            self._put(exc)

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class SoftFitResult:
    """A network fitted to soft targets.

    Attributes
    ----------
    model : keras.Model
        With the weights of the best validation epoch.
    history : list of dict
        Per epoch: ``loss``, ``val_loss`` (cross-entropy), ``val_rmse``.
    best_epoch : int
    images : int
        Training images seen.
    train_seconds : float
    """

    model: keras.Model
    history: list[dict[str, float]]
    best_epoch: int
    images: int
    train_seconds: float


def _forward(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Inference-mode outputs, float64, one ``predict_on_batch`` per batch.

    ``predict_on_batch`` runs the model's traced predict step (traced for the
    first batch shape, then once more with a free batch size), without
    ``predict``'s per-call data adapter.  It gives the same numbers, to the
    last bit, as calling the model eagerly, ``model(x, training=False)``, and
    on the morphology net it is 2.8–4.1× faster
    (``benchmarks/bench_soft_forward.py``): an eager call walks the layer
    graph in Python, op by op.  Every epoch of a soft fit scores the
    validation split this way.
    """
    return np.concatenate([np.asarray(model.predict_on_batch(x[i: i + batch_size]))
                           for i in range(0, len(x), batch_size)]).astype(np.float64)


class _Epochs:
    def __init__(self, model, x_val, y_val, *, patience: int, batch_size: int, on_epoch: Callable | None):
        self.model, self.stop_training = model, False
        self.x_val, self.y_val, self.patience, self.bs, self.on_epoch = x_val, y_val, patience, batch_size, on_epoch
        self.history: list[dict[str, float]] = []
        self.best, self.best_epoch, self.best_weights = np.inf, -1, None

    def on_epoch_end(self, epoch, logs=None):
        p = np.clip(_forward(self.model, self.x_val, self.bs), 1e-7, 1.0)
        val_loss = float(-np.mean(np.sum(self.y_val * np.log(p), axis=1)))
        rmse = float(np.sqrt(np.mean((p - self.y_val) ** 2)))
        entry = {"loss": float((logs or {}).get("loss", np.nan)), "val_loss": val_loss, "val_rmse": rmse}
        self.history.append(entry)
        if self.on_epoch is not None:
            self.on_epoch(epoch, entry)
        if val_loss < self.best:
            self.best, self.best_epoch, self.best_weights = val_loss, epoch, self.model.get_weights()
        elif epoch - self.best_epoch >= self.patience:
            self.stop_training = True


class SoftTrainer:
    """One compiled network fitted many times: each :meth:`fit` restarts from given weights and a fresh Adam.

    Compiling a Keras network traces its training step, which costs more
    than a few epochs on a small set; learning curves and repeats refit the
    same architecture, so they share one trace.  Changing which layers are
    trainable needs a new trainer.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.optimizer = keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999)
        compile_built(model, optimizer=self.optimizer, loss=keras.losses.CategoricalCrossentropy())
        self._fresh = True

    def fit(self, *, weights: list | None, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
            y_val: np.ndarray, learning_rate: float, batch_size: int, epochs: int, patience: int, seed: int,
            augment: Callable | None = None, on_epoch: Callable[[int, dict], None] | None = None,
            prefetch: bool = True) -> SoftFitResult:
        """Fit from ``weights`` (None: the model's current ones); see :func:`fit_soft`.

        ``prefetch`` makes the next batches (and their augmentation) on a
        background thread while the network trains (:class:`_Prefetch`); the
        result is the same either way.
        """
        model = self.model
        k = int(model.output_shape[-1])
        for name, x, y in (("train", x_train, y_train), ("val", x_val, y_val)):
            if len(x) == 0 or len(x) != len(y):
                raise DataError(f"fit_soft: the {name} split has {len(x)} images and {len(y)} targets; need ≥ 1 "
                                "of each, equal in number")
            if y.shape[1] != k:
                raise DataError(f"fit_soft: {name} targets have {y.shape[1]} classes but the model outputs {k}")
        # a fit is a function of (weights, data, seed) alone: the batches' order and augmentation follow
        # ``seed``, and the dropout layers' seed generators restart from it (not where the last fit left them).
        # No keras.utils.set_random_seed here: a new global seed makes TensorFlow retrace the step (~10 s).
        if weights is not None:
            model.set_weights(weights)
        reseed_generators(model, seed)
        if not self._fresh:  # a fresh Adam: zero moments and step count
            for v in self.optimizer.variables:
                v.assign(np.zeros(v.shape, dtype=v.dtype))
        self._fresh = False
        self.optimizer.learning_rate.assign(learning_rate)
        batches = _Batches(x_train, y_train.astype(np.float32), batch_size=batch_size, seed=seed, augment=augment)
        monitor = _Epochs(model, x_val, y_val.astype(np.float64), patience=patience, batch_size=max(batch_size, 128),
                          on_epoch=on_epoch)
        t0 = time.perf_counter()
        if prefetch:
            feed = _Prefetch(batches, epochs)
            next_batch = feed.next
        else:
            serial = batches.epochs(epochs)
            next_batch = lambda: next(serial)  # noqa: E731
        try:
            # train_on_batch runs one traced step per call; model.fit would set up (and partly retrace) per call
            for epoch in range(epochs):
                losses = [float(np.asarray(model.train_on_batch(*next_batch()))) for _ in range(len(batches))]
                monitor.on_epoch_end(epoch, {"loss": float(np.mean(losses))})
                if monitor.stop_training:
                    break
        finally:
            if prefetch:
                feed.close()
        seconds = time.perf_counter() - t0
        if monitor.best_weights is not None:
            model.set_weights(monitor.best_weights)
        return SoftFitResult(model=model, history=monitor.history, best_epoch=monitor.best_epoch,
                             images=len(x_train) * len(monitor.history), train_seconds=seconds)


def fit_soft(model: keras.Model, *, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
             y_val: np.ndarray, learning_rate: float, batch_size: int, epochs: int, patience: int, seed: int,
             augment: Callable | None = None, on_epoch: Callable[[int, dict], None] | None = None) -> SoftFitResult:
    """Fit ``model`` (softmax output) to soft targets with Adam and cross-entropy; keep the best validation epoch.

    Parameters
    ----------
    model : keras.Model
        (n, …) → (n, k) probabilities; layers with ``trainable = False`` stay fixed.
    x_train, x_val : ndarray
    y_train, y_val : ndarray of shape (n, k)
        Probability vectors (:func:`soft_targets`).
    learning_rate, batch_size, epochs, patience, seed
        Adam's step (β₁ = 0.9, β₂ = 0.999), mini-batch, epoch cap, early-stopping patience, shuffling seed.
    augment : callable, optional
        ``augment(x_batch, rng=…) -> x_batch`` on training batches only (:func:`augment_stamps`).
    on_epoch : callable, optional
        Called with (epoch, logs) after every epoch (MLflow logging, Optuna pruning).

    Returns
    -------
    SoftFitResult

    Raises
    ------
    DataError
        Targets whose width differs from the model's output, or an empty split.
    """
    return SoftTrainer(model).fit(weights=None, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
                                  learning_rate=learning_rate, batch_size=batch_size, epochs=epochs,
                                  patience=patience, seed=seed, augment=augment, on_epoch=on_epoch)


def predict_soft(model: keras.Model, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of ``x``, shape (n, k), float64, rows renormalised to sum to one."""
    if len(x) == 0:
        return np.zeros((0, int(model.output_shape[-1])))
    p = _forward(model, x, batch_size)
    return p / p.sum(axis=1, keepdims=True)


def freeze_blocks(blocks: Sequence[Sequence[keras.layers.Layer]], depth: int) -> int:
    """Freeze every layer of the first ``depth`` blocks (input side); return how many layers were frozen.

    A frozen ``BatchNormalization`` also runs in inference mode (Keras 3),
    keeping the source survey's statistics.

    Raises
    ------
    DataError
        ``depth`` outside 0 … len(blocks).
    """
    if not 0 <= depth <= len(blocks):
        raise DataError(f"frozen depth {depth} is outside 0 … {len(blocks)} (the network has {len(blocks)} blocks)")
    n = 0
    for block in blocks[:depth]:
        for layer in block:
            layer.trainable = False
            n += 1
    return n
