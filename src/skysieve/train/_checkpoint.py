"""Resumable training: a checkpoint per fold after every epoch, and per finished fold.

A :class:`TrainingCheckpoint` is a directory (``models/<task>/cnn.ckpt/`` for
``skysieve train``) holding, for each fold, either its finished model or the
state at the end of its last epoch: the model with its optimizer variables
(Keras ``.keras`` file: weights, moments, iteration count, learning rate),
the curriculum stage and epoch, the per-epoch history, the early-stopping and
plateau-schedule counters, the best weights so far (of this stage and of the
stages before), the warm-up's batch count and the dropout layers' random
state. Batch plans and augmentation are seeded per (seed, stage, epoch,
batch), so a fit resumed from a checkpoint runs the same remaining epochs,
bit for bit on CPU, as the uninterrupted fit would.

The directory records a key (a hash of the resolved params and the data
hashes); a checkpoint left by other params or other data is discarded, never
resumed. Every write goes to a new sub-directory, and a ``LATEST`` file is then
replaced atomically, so a process killed in mid-write leaves the previous
checkpoint intact. Every temporary file and directory has a unique name
(:func:`skysieve._io.atomic_path`), so two processes writing the same
checkpoint never write into each other's files; the last one to finish a
write wins.
"""

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from skysieve._io import atomic_path

__all__ = ["CHECKPOINT_SUFFIX", "TRAINING_CODE", "EpochState", "FoldCheckpoint", "TrainingCheckpoint", "checkpoint_key",
           "training_code_digest"]

#: ``models/sz/cnn`` keeps its checkpoints in ``models/sz/cnn.ckpt``.
CHECKPOINT_SUFFIX = ".ckpt"
_FORMAT = "skysieve.TrainingCheckpoint/1"
_META = "checkpoint.json"
_LATEST = "LATEST"
_DONE = "done"
_MODEL = "model.keras"
_STATE = "state.json"
_ARRAYS = "arrays.npz"


#: Parts of the package a trained model depends on (relative to the ``skysieve`` directory).
TRAINING_CODE = ("train", "nets", "tune", "metrics", "data/dataset.py", "config/_train.py")


def training_code_digest() -> str:
    """SHA-256 of the sources in :data:`TRAINING_CODE` (paths and bytes, sorted by path)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for part in TRAINING_CODE:
        target = package / part
        for path in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def checkpoint_key(params: Any, *, data: Mapping[str, str]) -> str:
    """Hash of what a checkpoint is valid for: the resolved params, the input data hashes and the training code.

    Keys a section lists in ``RUNTIME_KEYS`` (``TrainParams.fold_workers``: how
    many processes fit the folds) say how training runs, not what it computes,
    and are left out: a checkpoint written with one value resumes with another.

    Parameters
    ----------
    params : pydantic section or mapping
    data : mapping of str to str
        E.g. the ``data.<path>.md5`` entries of :func:`skysieve._tracking.provenance`.
    """
    if hasattr(params, "model_dump"):
        params = params.model_dump(mode="json", exclude=set(getattr(params, "RUNTIME_KEYS", ())))
    text = json.dumps({"format": _FORMAT, "params": params, "data": dict(sorted(data.items())),
                       "code": training_code_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seed_generators(model: Any) -> list[Any]:
    """The ``keras.random.SeedGenerator`` objects of a model's layers (dropout), in layer order.

    Their state is not part of a saved ``.keras`` file; checkpoints carry it.
    """
    import keras

    found = []

    def visit(layer: Any) -> None:
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                found.append(value)
        for sub in getattr(layer, "layers", []) or []:
            visit(sub)

    for layer in model.layers:
        visit(layer)
    return found


@dataclass
class EpochState:
    """Where a fit stands at the end of an epoch, beyond the model and its optimizer.

    Attributes
    ----------
    stage : int
        Curriculum stage (0 for single-stage strategies).
    epoch : int
        Epoch just finished, counted within the stage from 0.
    stage_done : bool
        The stage ended with this epoch (its last epoch, or early stopping).
    history : list of dict
        Every epoch's record so far, all stages.
    stage_start : int
        Index into ``history`` of the stage's first epoch.
    best_loss, best_index, wait : float, int, int
        Early-stopping state of the stage (``best_index`` within the stage).
    best_weights : list of ndarray
        The stage's best weights so far.
    stage_best : list of (float, int, list of ndarray)
        Finished stages: selection metric, history index, weights.
    plateau : dict
        ``ReduceLROnPlateau`` counters (``wait``, ``best``, ``cooldown_counter``).
    warmup_seen : int
        Batches the warm-up has counted.
    images : int
        Training images seen in finished stages.
    seconds : float
        Training wall time so far.
    rng : list of ndarray
        States of the model's seed generators.
    """

    stage: int
    epoch: int
    stage_done: bool
    history: list[dict[str, float]]
    stage_start: int
    best_loss: float
    best_index: int
    wait: int
    best_weights: list[np.ndarray]
    stage_best: list[tuple[float, int, list[np.ndarray]]] = field(default_factory=list)
    plateau: dict[str, float] = field(default_factory=dict)
    warmup_seen: int = 0
    images: int = 0
    seconds: float = 0.0
    rng: list[np.ndarray] = field(default_factory=list)

    @property
    def step(self) -> int:
        """Epochs finished across stages (the next epoch's step)."""
        return len(self.history)


def _write_arrays(path: Path, groups: Mapping[str, list[np.ndarray]]) -> None:
    arrays = {f"{name}__{i}": np.asarray(a) for name, items in groups.items() for i, a in enumerate(items)}
    np.savez(path, **arrays)


def _read_arrays(path: Path) -> dict[str, list[np.ndarray]]:
    groups: dict[str, list[tuple[int, np.ndarray]]] = {}
    with np.load(path) as npz:
        for key in npz.files:
            name, i = key.rsplit("__", 1)
            groups.setdefault(name, []).append((int(i), npz[key]))
    return {name: [a for _, a in sorted(items, key=lambda t: t[0])] for name, items in groups.items()}


def _replace_file(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


class FoldCheckpoint:
    """The checkpoints of one fold: the last epoch's state, or the finished fold.

    Parameters
    ----------
    directory : path
        ``<checkpoint>/fold_<i>``.
    every_epoch : bool
        Save the state after every epoch (resumable mid-fold); False keeps
        only finished folds (what a tuning trial hands to ``skysieve train``).
    """

    def __init__(self, directory: str | Path, *, every_epoch: bool = True):
        self.directory = Path(directory)
        self.every_epoch = every_epoch

    # -- per-epoch state -------------------------------------------------------------------------
    def save_epoch(self, model: Any, state: EpochState) -> Path:
        """Write the model (with its optimizer) and ``state``; the previous epoch's is then removed.

        The engine calls it only if :attr:`every_epoch`.
        """
        import keras

        name = f"epoch-{state.step:05d}"
        target = self.directory / name
        with atomic_path(target) as tmp:
            tmp.mkdir()
            model.save(tmp / _MODEL)
            rng = [keras.ops.convert_to_numpy(g.state) for g in seed_generators(model)]
            groups = {"best": state.best_weights, "rng": rng}
            meta_best = []
            for k, (metric, index, weights) in enumerate(state.stage_best):
                groups[f"stage{k}"] = weights
                meta_best.append([metric, index])
            _write_arrays(tmp / _ARRAYS, groups)
            record = {"stage": state.stage, "epoch": state.epoch, "stage_done": state.stage_done,
                      "history": state.history, "stage_start": state.stage_start, "best_loss": state.best_loss,
                      "best_index": state.best_index, "wait": state.wait, "stage_best": meta_best,
                      "plateau": state.plateau, "warmup_seen": state.warmup_seen, "images": state.images,
                      "seconds": state.seconds, "written_at": datetime.now(UTC).isoformat(timespec="seconds")}
            (tmp / _STATE).write_text(json.dumps(record))
        _replace_file(self.directory / _LATEST, name)
        self._prune(keep=name)
        return target

    def load_epoch(self) -> tuple[Any, EpochState] | None:
        """The model (compiled, optimizer restored) and state of the last saved epoch, or None."""
        import keras

        import skysieve.nets  # noqa: F401  (registers the custom layers)

        pointer = self.directory / _LATEST
        if not pointer.is_file():
            return None
        source = self.directory / pointer.read_text().strip()
        if not (source / _STATE).is_file():
            return None
        record = json.loads((source / _STATE).read_text())
        arrays = _read_arrays(source / _ARRAYS)
        model = keras.saving.load_model(source / _MODEL)
        rng = arrays.get("rng", [])
        for generator, value in zip(seed_generators(model), rng, strict=False):
            generator.state.assign(value)
        stage_best = [(float(metric), int(index), arrays.get(f"stage{k}", []))
                      for k, (metric, index) in enumerate(record["stage_best"])]
        state = EpochState(
            stage=record["stage"], epoch=record["epoch"], stage_done=record["stage_done"], history=record["history"],
            stage_start=record["stage_start"], best_loss=float(record["best_loss"]), best_index=record["best_index"],
            wait=record["wait"], best_weights=arrays.get("best", []), stage_best=stage_best,
            plateau=record["plateau"], warmup_seen=record["warmup_seen"], images=record["images"],
            seconds=record["seconds"], rng=rng)
        return model, state

    # -- finished fold ---------------------------------------------------------------------------
    def save_done(self, model: Any, *, history: list[dict[str, float]], best_epoch: int, val_scores: np.ndarray,
                  images: int, train_seconds: float, resumed_epochs: int) -> Path:
        """Write the fold's final model and record; its per-epoch checkpoints are then removed."""
        with atomic_path(self.directory / _DONE) as tmp:
            tmp.mkdir()
            model.save(tmp / _MODEL)
            np.savez(tmp / _ARRAYS, val_scores=np.asarray(val_scores))
            (tmp / _STATE).write_text(json.dumps({"history": history, "best_epoch": best_epoch, "images": images,
                                                  "train_seconds": train_seconds, "resumed_epochs": resumed_epochs}))
        (self.directory / _LATEST).unlink(missing_ok=True)
        self._prune(keep=_DONE)
        return self.directory / _DONE

    def load_done(self) -> dict[str, Any] | None:
        """The finished fold (``model``, ``history``, ``best_epoch``, ``val_scores``, …) or None."""
        import keras

        import skysieve.nets  # noqa: F401

        source = self.directory / _DONE
        if not (source / _STATE).is_file():
            return None
        record = json.loads((source / _STATE).read_text())
        with np.load(source / _ARRAYS) as npz:
            record["val_scores"] = npz["val_scores"]
        record["model"] = keras.saving.load_model(source / _MODEL)
        return record

    def _prune(self, *, keep: str) -> None:
        for path in self.directory.iterdir():
            if path.is_dir() and path.name != keep and (path.name.startswith("epoch-") or path.name == _DONE):
                shutil.rmtree(path, ignore_errors=True)


class TrainingCheckpoint:
    """The checkpoint directory of one training run: one :class:`FoldCheckpoint` per fold.

    Use :meth:`open`, which discards a checkpoint written for another key.

    Attributes
    ----------
    directory : Path
    key : str
    discarded : str or None
        Why an existing checkpoint was thrown away on :meth:`open` (other params or data), if it was.
    """

    def __init__(self, directory: str | Path, *, key: str, every_epoch: bool = True):
        self.directory, self.key, self.every_epoch = Path(directory), key, every_epoch
        self.discarded: str | None = None

    @classmethod
    def open(cls, directory: str | Path, *, key: str, resume: bool = True,
             info: Mapping[str, Any] | None = None, every_epoch: bool = True) -> "TrainingCheckpoint":
        """Open (creating) ``directory`` for ``key``.

        Parameters
        ----------
        directory : path
        key : str
            From :func:`checkpoint_key`.
        resume : bool
            False discards whatever is there.
        info : mapping, optional
            Recorded in ``checkpoint.json`` (the MLflow run that wrote it…).
        every_epoch : bool
            False: keep finished folds only (see :class:`FoldCheckpoint`).
        """
        ckpt = cls(directory, key=key, every_epoch=every_epoch)
        meta_path = ckpt.directory / _META
        previous = ckpt.read_meta()
        if ckpt.directory.exists() and (not resume or previous is None or previous.get("key") != key):
            if previous is not None and previous.get("key") != key:
                ckpt.discarded = (f"{ckpt.directory}: written for other params or data "
                                  f"(key {previous.get('key')} ≠ {key})")
            elif not resume and previous is not None:
                ckpt.discarded = f"{ckpt.directory}: discarded (resume off)"
            shutil.rmtree(ckpt.directory)
        ckpt.directory.mkdir(parents=True, exist_ok=True)
        meta = ckpt.read_meta() or {"format": _FORMAT, "key": key,
                                    "created": datetime.now(UTC).isoformat(timespec="seconds"), "runs": []}
        if info:
            meta["runs"] = [*meta.get("runs", []), dict(info)]
        _replace_file(meta_path, json.dumps(meta, indent=2, default=str) + "\n")
        return ckpt

    def read_meta(self) -> dict[str, Any] | None:
        """``checkpoint.json`` as a dict, or None if absent or unreadable."""
        try:
            return json.loads((self.directory / _META).read_text())
        except (OSError, ValueError):
            return None

    def fold(self, index: int) -> FoldCheckpoint:
        """The checkpoint of fold ``index``."""
        return FoldCheckpoint(self.directory / f"fold_{index}", every_epoch=self.every_epoch)

    def finished_folds(self) -> list[int]:
        """Indices of the folds saved as finished, sorted."""
        return sorted(int(p.parent.parent.name.removeprefix("fold_"))
                      for p in self.directory.glob(f"fold_*/{_DONE}/{_STATE}"))

    def remove(self) -> None:
        """Delete the directory (after the model it was for is saved)."""
        shutil.rmtree(self.directory, ignore_errors=True)
