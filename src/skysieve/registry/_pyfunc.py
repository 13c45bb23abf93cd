"""The ensemble as an MLflow pyfunc model: thresholds and reference distributions travel with it.

Input: a DataFrame with ``mf_snr`` and ``cnn_prob`` (one row per cutout).
Output: a DataFrame with the scores and the decision of every method (see
:meth:`skysieve.ensemble.Ensembles.predict_columns`).  Where the model was
logged with ``cnn_model_uri``, :meth:`EnsembleModel.predict_cutouts` scores
cutouts with that CNN first, so cutouts plus SNRs work as well.
"""

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from skysieve.ensemble._methods import CNN_COLUMN, MF_COLUMN, Ensembles
from skysieve.errors import DataError, RegistryError

__all__ = ["REFERENCES_ARTIFACT", "THRESHOLDS_ARTIFACT", "EnsembleModel", "ensemble_signature", "write_state"]

THRESHOLDS_ARTIFACT = "thresholds"
REFERENCES_ARTIFACT = "references"


def write_state(ensembles: Ensembles, directory: str | Path) -> dict[str, str]:
    """Write the thresholds (JSON) and reference distributions (NPZ) of fitted ensembles.

    Returns
    -------
    dict of str to str
        The ``artifacts`` mapping for :func:`mlflow.pyfunc.log_model`.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    thresholds = directory / "thresholds.json"
    references = directory / "references.npz"
    thresholds.write_text(json.dumps(ensembles.thresholds(), indent=2) + "\n")
    np.savez(references, **ensembles.references())
    return {THRESHOLDS_ARTIFACT: str(thresholds), REFERENCES_ARTIFACT: str(references)}


def read_state(thresholds_path: str | Path, references_path: str | Path) -> Ensembles:
    """Rebuild :class:`Ensembles` from the files :func:`write_state` wrote."""
    thresholds = json.loads(Path(thresholds_path).read_text())
    with np.load(references_path) as npz:
        references = {k: npz[k] for k in npz.files}
    return Ensembles.from_state(thresholds, references)


def ensemble_signature() -> ModelSignature:
    """Input and output schema of :class:`EnsembleModel`."""
    inputs = Schema([ColSpec("double", CNN_COLUMN), ColSpec("double", MF_COLUMN)])
    outputs = Schema(
        [ColSpec("double", c) for c in (CNN_COLUMN, MF_COLUMN, "q_cnn", "q_mf", "rank_product")]
        + [ColSpec("boolean", f"decision_{m}") for m in ("mf", "cnn", "and", "rank_product")]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


class EnsembleModel(mlflow.pyfunc.PythonModel):
    """MF + CNN ensembles as a pyfunc: ``predict(DataFrame[cnn_prob, mf_snr]) -> DataFrame``.

    The state is not pickled with the object: :meth:`load_context` reads it
    from the model's artifacts, so what is in the registry is what runs.

    Attributes
    ----------
    ensembles : Ensembles
        Set by :meth:`load_context`.
    cnn_model_uri : str or None
        The CNN this ensemble was built on, if it was logged with one.
    """

    # MLflow wraps ``predict`` for type-hint validation and warns when there are no hints; the
    # schema here is the explicit signature (:func:`ensemble_signature`), so skip that wrapping.
    _skip_type_hint_validation = True

    def __init__(self) -> None:
        self.ensembles: Ensembles | None = None
        self.cnn_model_uri: str | None = None
        self._cnn = None

    def load_context(self, context: Any) -> None:
        """Read thresholds and reference distributions from the model artifacts."""
        self.ensembles = read_state(context.artifacts[THRESHOLDS_ARTIFACT], context.artifacts[REFERENCES_ARTIFACT])
        self.cnn_model_uri = (context.model_config or {}).get("cnn_model_uri")
        self._cnn = None

    # no type hints on predict: MLflow would try to derive a schema from them; the signature is explicit
    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201, ARG002
        """Scores and decisions of every method, one row per input row.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext or None
        model_input : pandas.DataFrame
            Columns ``cnn_prob`` and ``mf_snr``.
        params : dict, optional
            Unused.

        Returns
        -------
        pandas.DataFrame
            See :meth:`skysieve.ensemble.Ensembles.predict_columns`.
        """
        frame = pd.DataFrame(model_input)
        missing = [c for c in (CNN_COLUMN, MF_COLUMN) if c not in frame.columns]
        if missing:
            raise DataError(
                f"ensemble model input lacks columns {missing} (got {list(frame.columns)}); "
                f"pass a DataFrame with '{CNN_COLUMN}' and '{MF_COLUMN}', or use predict_cutouts"
            )
        return pd.DataFrame(self.ensembles.predict_columns(frame[CNN_COLUMN], frame[MF_COLUMN]), index=frame.index)

    def predict_cutouts(self, cutouts: np.ndarray, mf_snr: Any) -> pd.DataFrame:
        """Score cutouts with the linked CNN model, then combine with the MF SNRs.

        Parameters
        ----------
        cutouts : ndarray of shape (n, ny, nx, nchan)
            In the channel order the CNN was trained on.
        mf_snr : array-like of shape (n,)

        Raises
        ------
        RegistryError
            If the model was logged without ``cnn_model_uri``.
        """
        if self.cnn_model_uri is None:
            raise RegistryError(
                "this ensemble model was registered without a CNN (cnn_model_uri); pass cnn_prob instead, "
                "or register it with register_ensemble(..., cnn_model_uri='models:/NAME/VERSION')"
            )
        if self._cnn is None:
            self._cnn = mlflow.pyfunc.load_model(self.cnn_model_uri)
        prob = np.asarray(self._cnn.predict(np.asarray(cutouts, dtype=np.float32)), dtype=np.float64).reshape(-1)
        frame = pd.DataFrame({CNN_COLUMN: prob, MF_COLUMN: np.asarray(mf_snr, dtype=np.float64).reshape(-1)})
        return self.predict(None, frame)
