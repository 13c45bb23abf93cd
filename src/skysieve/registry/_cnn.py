"""The trained CNN as an MLflow pyfunc model: fold models averaged, then Platt-calibrated.

Input: a float32 array of cutouts of shape (n, ny, nx, nchan), raw pixels in
the channel order the CNN was trained on.  Output: the calibrated probability
that each cutout holds an object, shape (n,).

The artifact is the model directory ``skysieve train`` writes
(``models/<task>/cnn``): the fold ``.keras`` files, ``calibration.json`` (the
Platt calibrator) and ``ensemble.json`` (the manifest); it is read back with
:func:`skysieve.train.load_trained`, so what runs from the registry is what
``skysieve train`` saved.  The model is logged as *models from code*
(``_cnn_code.py``), so no Python object is pickled.  The channel order, the
cutout shape and the training run are in the model's MLmodel ``metadata``.
"""

import json
import shutil
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from skysieve.errors import DataError

__all__ = ["CNN_ARTIFACT", "CnnModel", "cnn_signature", "log_cnn_model", "read_cnn_manifest"]

#: Name of the model-directory artifact of the pyfunc.
CNN_ARTIFACT = "cnn"
#: What ``metadata["skysieve.kind"]`` says for this model.
CNN_KIND = "cnn"
_MANIFEST = "ensemble.json"


def read_cnn_manifest(models_dir: str | Path) -> dict[str, Any]:
    """Read and check ``<models_dir>/ensemble.json`` without loading any network.

    Returns
    -------
    dict
        The manifest: ``models`` (fold files), ``calibration``, ``channels``,
        ``input_shape`` (ny, nx, nchan) and the training metadata.

    Raises
    ------
    DataError
        If the directory, the manifest, a fold file or the calibration file is
        missing, or the manifest lacks ``channels`` / ``input_shape``.
    """
    models_dir = Path(models_dir)
    path = models_dir / _MANIFEST
    if not path.is_file():
        raise DataError(f"{path}: not found; run `skysieve train` (or `dvc repro`) to create the model in "
                        f"{models_dir}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable model manifest ({exc}); re-run `skysieve train`") from exc
    files = list(manifest.get("models") or [])
    if manifest.get("calibration"):
        files.append(manifest["calibration"])
    missing = [f for f in files if not (models_dir / f).is_file()]
    if not manifest.get("models") or missing:
        raise DataError(f"{models_dir}: model files {missing or ['fold_<i>.keras']} named in {_MANIFEST} are "
                        "missing; re-run `skysieve train`")
    absent = [k for k in ("channels", "input_shape") if not manifest.get(k)]
    if absent:
        raise DataError(f"{path}: no {absent} in the manifest; the catalog needs the channel order and the cutout "
                        "shape the CNN was trained on (written by `skysieve train`)")
    shape = [int(s) for s in manifest["input_shape"]]
    if len(shape) != 3 or shape[2] != len(manifest["channels"]):
        raise DataError(f"{path}: input_shape {shape} does not match channels {manifest['channels']}; "
                        "expected (ny, nx, nchan)")
    return manifest


def cnn_signature(input_shape: tuple[int, int, int] | list[int]) -> ModelSignature:
    """Tensor signature of :class:`CnnModel`: float32 (-1, ny, nx, nchan) in, float64 (-1,) out."""
    shape = tuple(int(s) for s in input_shape)
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *shape))]),
                          outputs=Schema([TensorSpec(np.dtype(np.float64), (-1,))]))


class CnnModel(mlflow.pyfunc.PythonModel):
    """The fold ensemble as a pyfunc: ``predict(float32 (n, ny, nx, nchan)) -> (n,)`` probabilities.

    The networks are not pickled with the object: :meth:`load_context` reads
    them from the model's ``cnn`` artifact with :func:`skysieve.train.load_trained`.

    Attributes
    ----------
    ensemble : FoldEnsemble
        Set by :meth:`load_context`.
    channels : tuple of str
        Band names in channel order, e.g. ``("90GHz", "148GHz", "219GHz")``.
    input_shape : tuple of int
        (ny, nx, nchan) of one cutout.
    batch_size : int
        Cutouts per forward pass in :meth:`predict_proba`.
    """

    # The schema is the explicit tensor signature (cnn_signature); skip MLflow's type-hint wrapping.
    _skip_type_hint_validation = True

    def __init__(self) -> None:
        self.ensemble = None
        self.channels: tuple[str, ...] = ()
        self.input_shape: tuple[int, ...] = ()
        self.batch_size = 512

    def load_context(self, context: Any) -> None:
        """Load the fold models and the calibrator from the ``cnn`` artifact."""
        from skysieve.train._ensemble import load_trained

        self.ensemble = load_trained(context.artifacts[CNN_ARTIFACT])
        self.channels = tuple(str(c) for c in self.ensemble.metadata.get("channels", ()))
        self.input_shape = tuple(int(s) for s in self.ensemble.metadata.get("input_shape", ()))
        self.batch_size = int((context.model_config or {}).get("batch_size", self.batch_size))

    def predict_proba(self, cutouts: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of a stack of cutouts, scored ``batch_size`` at a time.

        Parameters
        ----------
        cutouts : ndarray of shape (n, ny, nx, nchan)
            Raw pixels (µK_CMB for SZ), channels in :attr:`channels` order.

        Returns
        -------
        ndarray of shape (n,), float64

        Raises
        ------
        DataError
            If the cutouts' shape is not (n, *input_shape).
        """
        x = np.asarray(cutouts, dtype=np.float32)
        if x.ndim != 4 or (self.input_shape and tuple(x.shape[1:]) != self.input_shape):
            expected = ", ".join(map(str, self.input_shape))
            raise DataError(f"CNN model input has shape {x.shape}; expected (n, {expected}) with channels "
                            f"{list(self.channels)}")
        out = np.empty(x.shape[0], dtype=np.float64)
        for start in range(0, x.shape[0], self.batch_size):
            out[start: start + self.batch_size] = self.ensemble.predict_proba(x[start: start + self.batch_size])
        return out

    # no type hints on predict: MLflow would derive a schema from them; the signature is explicit
    def predict(self, context, model_input, params=None):
        """Calibrated probabilities, one per cutout (see :meth:`predict_proba`)."""
        if isinstance(model_input, dict) and len(model_input) == 1:  # a named single tensor
            model_input = next(iter(model_input.values()))
        return self.predict_proba(model_input)


def log_cnn_model(models_dir: str | Path, *, name: str = "cnn") -> str:
    """Log the CNN that ``skysieve train`` wrote as a pyfunc model, and return its URI.

    Logged in the active MLflow run, or in a new run named ``log-cnn`` if none
    is active.  Register it with
    :func:`~skysieve.registry.register_model_version` and pass the registered
    ``models:/NAME/VERSION`` to :func:`~skysieve.registry.register_ensemble`
    as ``cnn_model_uri``.

    Parameters
    ----------
    models_dir : path
        ``models/<task>/cnn``: fold ``.keras`` files, ``calibration.json``,
        ``ensemble.json``.
    name : str, keyword-only
        Artifact path of the model within the run.

    Returns
    -------
    str
        The logged model's URI (``models:/m-…``).

    Raises
    ------
    DataError
        If the model directory is incomplete (see :func:`read_cnn_manifest`).
    """
    from skysieve.registry._environment import model_environment

    models_dir = Path(models_dir)
    manifest = read_cnn_manifest(models_dir)
    shape = [int(s) for s in manifest["input_shape"]]
    metadata = {
        "skysieve.kind": CNN_KIND,
        "channels": [str(c) for c in manifest["channels"]],
        "input_shape": shape,
        "cutout_size_px": shape[:2],
        "n_folds": len(manifest["models"]),
        "calibration": "platt" if manifest.get("calibration") else "none",
        "combine": manifest.get("combine", "mean of fold probabilities, then Platt scaling"),
        "task": manifest.get("task"),
        "net": manifest.get("net"),
        "training_run_id": manifest.get("mlflow_run_id"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / CNN_ARTIFACT
        staged.mkdir()
        files = [*manifest["models"], *([manifest["calibration"]] if manifest.get("calibration") else []), _MANIFEST]
        for f in files:
            shutil.copy2(models_dir / f, staged / f)
        active = mlflow.active_run()
        run_ctx = mlflow.start_run(run_name="log-cnn") if active is None else nullcontext(active)
        code = Path(__file__).with_name("_cnn_code.py")
        with run_ctx, model_environment(code) as env:
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(code),
                artifacts={CNN_ARTIFACT: str(staged)},
                signature=cnn_signature(shape),
                input_example=np.zeros((1, *shape), dtype=np.float32),
                metadata={k: v for k, v in metadata.items() if v is not None},
                code_paths=env.code_paths,
                pip_requirements=env.pip_requirements,
            )
    return info.model_uri
