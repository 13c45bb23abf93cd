"""The final model: k fold models averaged, then Platt-calibrated; saving, loading, streaming prediction."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skysieve._io import atomic_path
from skysieve.errors import DataError
from skysieve.train._calibrate import PlattCalibrator

__all__ = ["CALIBRATION_FILE", "MANIFEST_FILE", "FoldEnsemble", "load_trained", "model_proba", "outputs_proba",
           "predict_dataset", "predict_outputs"]

MANIFEST_FILE = "ensemble.json"
CALIBRATION_FILE = "calibration.json"


def model_proba(model: Any, x: np.ndarray) -> np.ndarray:
    """Raw positive-class probabilities of one Keras model on a batch, shape (n,).

    A model trained on dense targets (:mod:`skysieve.data.targets`) outputs
    maps (n, ty, tx, tc); a cutout's probability is then the maximum of the
    first channel, its score map.
    """
    return outputs_proba(model.predict_on_batch(x))


def outputs_proba(outputs: np.ndarray) -> np.ndarray:
    """A cutout's probability from a model's raw outputs: (n, 1) as they are, maps (n, ty, tx, tc) by the
    maximum of their first channel; float64 of shape (n,)."""
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim > 2:
        out = out[..., 0].reshape(out.shape[0], -1).max(axis=1)
    return out.reshape(-1)


class FoldEnsemble:
    r"""k fold models whose probabilities are averaged, then Platt-scaled.

    With ``tta`` each cutout is also scored in the eight elements g of the
    dihedral group D4 (right-angle rotations and flips, the training
    augmentation's), and the raw score is the mean over folds and views,

    .. math:: \bar p(x) = \frac{1}{8k} \sum_{g \in D_4} \sum_{i=1}^{k} p_i(g\,x),

    which is invariant under every g; the calibrator must then have been
    fitted on such averaged scores (:func:`skysieve.train.train_ensemble`
    does, from ``TrainParams.tta``).

    Parameters
    ----------
    models : sequence of keras.Model
        Each maps (n, ny, nx, nchan) cutouts to (n, 1) probabilities.
    calibrator : PlattCalibrator or None
        Fitted on the validation split; ``None`` leaves the average as is.
    metadata : dict, optional
        Written to ``ensemble.json`` (task, params, provenance, MLflow run…).
    tta : bool
        Average over the eight D4 views (square cutouts only).
    """

    def __init__(self, models: Sequence[Any], calibrator: PlattCalibrator | None = None, *,
                 metadata: dict | None = None, tta: bool = False):
        if not models:
            raise ValueError("FoldEnsemble needs at least one model")
        self.models = list(models)
        self.calibrator = calibrator
        self.metadata = dict(metadata or {})
        self.tta = bool(tta)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """Mean of the fold models' probabilities (over the D4 views too with ``tta``), shape (n,), before calibration."""
        if not self.tta:
            return np.mean([model_proba(m, x) for m in self.models], axis=0)
        from skysieve.data.dihedral import dihedral

        if x.shape[1] != x.shape[2]:
            raise DataError(f"test-time augmentation needs square cutouts (got {x.shape[1]}×{x.shape[2]} px); "
                            "train with tta: false for rectangular ones")
        return np.mean([model_proba(m, dihedral(x, k)) for k in range(8) for m in self.models], axis=0)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probability that each cutout is positive.

        Parameters
        ----------
        x : ndarray of shape (n, ny, nx, nchan), raw pixels (µK_CMB for SZ)

        Returns
        -------
        ndarray of shape (n,)
        """
        raw = self.predict_raw(x)
        return self.calibrator.predict_proba(raw) if self.calibrator is not None else raw

    def save(self, directory: str | Path) -> Path:
        """Write ``fold_<i>.keras``, ``calibration.json`` and ``ensemble.json`` into ``directory``.

        The directory is replaced atomically. Returns its path.
        """
        directory = Path(directory)
        with atomic_path(directory) as tmp:
            tmp.mkdir(parents=True)
            files = []
            for i, model in enumerate(self.models):
                name = f"fold_{i}.keras"
                model.save(tmp / name)
                files.append(name)
            if self.calibrator is not None:
                (tmp / CALIBRATION_FILE).write_text(json.dumps(self.calibrator.to_dict(), indent=2) + "\n")
            combine = ("mean of fold probabilities over the 8 D4 views, then Platt scaling" if self.tta else
                       "mean of fold probabilities, then Platt scaling")
            manifest = {"format": "skysieve.FoldEnsemble/1", "models": files,
                        "calibration": CALIBRATION_FILE if self.calibrator is not None else None,
                        "combine": combine, **({"tta": True} if self.tta else {}), **self.metadata}
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "FoldEnsemble":
        """Inverse of :meth:`save`."""
        import keras

        import skysieve.nets._layers  # noqa: F401  (registers the custom layers)
        import skysieve.nets._losses  # noqa: F401  (registers the losses of dense targets)

        directory = Path(directory)
        manifest_path = directory / MANIFEST_FILE
        if not manifest_path.is_file():
            raise DataError(f"{manifest_path}: not found; run `skysieve train` (or `dvc repro`) to create the model")
        manifest = json.loads(manifest_path.read_text())
        models = [keras.saving.load_model(directory / name) for name in manifest["models"]]
        calibrator = None
        if manifest.get("calibration"):
            calibrator = PlattCalibrator.from_dict(json.loads((directory / manifest["calibration"]).read_text()))
        meta = {k: v for k, v in manifest.items() if k not in {"format", "models", "calibration", "combine", "tta"}}
        # a model saved before the option was scored plainly
        return cls(models, calibrator, metadata=meta, tta=bool(manifest.get("tta", False)))


def load_trained(models_dir: str | Path) -> FoldEnsemble:
    """Load the model ``skysieve train`` wrote (``models/<task>/cnn``)."""
    return FoldEnsemble.load(models_dir)


def predict_dataset(model: Any, dataset, rows: np.ndarray | None = None, *, batch_size: int = 512,
                    raw: bool = False) -> np.ndarray:
    """Stream ``rows`` of a cutout dataset through a model, one batch in memory at a time.

    Parameters
    ----------
    model : FoldEnsemble or keras.Model
    dataset : CutoutDataset
    rows : ndarray of int, optional
        Dataset rows, in the order wanted; default every row.
    batch_size : int
    raw : bool
        For a :class:`FoldEnsemble`, return the uncalibrated average.

    Returns
    -------
    ndarray of shape (len(rows),)
        Probabilities (calibrated for a FoldEnsemble unless ``raw``).
    """
    from skysieve.train._stream import iter_batches  # not at module level: registered models ship this module

    rows = np.arange(len(dataset)) if rows is None else np.asarray(rows, dtype=np.int64)
    if isinstance(model, FoldEnsemble):
        fn = model.predict_raw if raw else model.predict_proba
    else:
        def fn(x):
            return model_proba(model, x)
    out = [fn(x)[:n] for x, n in iter_batches(dataset, rows, batch_size=batch_size)]
    return np.concatenate(out) if out else np.empty(0)


def predict_outputs(model: Any, dataset, rows: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """A Keras model's raw outputs on ``rows`` of a cutout dataset, streamed batch by batch, in row order.

    The batches are those of :func:`predict_dataset` (same padding), so
    :func:`outputs_proba` of the result equals ``predict_dataset(model, dataset, rows)``.

    Returns
    -------
    ndarray of shape (len(rows), …)
        As the model outputs them: (n, 1) probabilities, or maps (n, ty, tx, tc).
    """
    from skysieve.train._stream import iter_batches

    rows = np.asarray(rows, dtype=np.int64)
    out = [np.asarray(model.predict_on_batch(x))[:n] for x, n in iter_batches(dataset, rows, batch_size=batch_size)]
    return np.concatenate(out) if out else np.empty((0, *model.output_shape[1:]))
