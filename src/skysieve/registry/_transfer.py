"""Transfer learning from the registry: a registered version's Keras network, checked against new inputs.

A fine-tune starts from a *registered* version (never a local file), so
the lineage — which version, which run — is known and recorded with the
fine-tuned model (:data:`LINEAGE_TAGS`).
"""

import re
from collections.abc import Sequence
from typing import Any

from skysieve.errors import DataError, RegistryError

__all__ = ["LINEAGE_TAGS", "load_transfer_source"]

#: Version tags naming the version a fine-tuned model started from.
LINEAGE_TAGS = ("transfer.source_uri", "transfer.source_name", "transfer.source_version", "transfer.source_run_id")

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")


def load_transfer_source(uri: str, *, input_shape: Sequence[int], n_outputs: int) -> tuple[Any, dict[str, str]]:
    """The Keras network of a registered version, to fine-tune on new data.

    Parameters
    ----------
    uri : str
        ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` of a version logged
        with MLflow's ``keras`` flavour.
    input_shape : sequence of int
        (ny, nx, nchan) of the new images.
    n_outputs : int
        Classes of the new targets.

    Returns
    -------
    model : keras.Model
        The registered network (a fresh copy to train).
    lineage : dict of str
        The :data:`LINEAGE_TAGS` with their values.

    Raises
    ------
    RegistryError
        A malformed URI, one that does not resolve to a version, or a version
        that cannot be loaded as Keras.
    DataError
        Its input shape or output width differs from the new data's.
    """
    import mlflow
    import mlflow.keras
    from mlflow.exceptions import MlflowException

    from skysieve.registry._versions import get_model_version

    found = _URI.match(str(uri).strip())
    if found is None:
        raise RegistryError(f"fine-tune source {uri!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION of a "
                            "registered model (register the pre-trained model first)")
    mv = get_model_version(found["name"], version=found["version"], alias=found["alias"])
    where = f"{uri} (model '{found['name']}' v{mv.version})"
    try:
        model = mlflow.keras.load_model(f"models:/{found['name']}/{mv.version}")
    except (MlflowException, OSError, ValueError, TypeError) as exc:
        raise RegistryError(f"{where} cannot be loaded as a Keras network to fine-tune from "
                            f"{mlflow.get_registry_uri()}: {exc}") from exc
    shape = tuple(int(s) for s in model.input_shape[1:])
    width = int(model.output_shape[-1])
    if shape != tuple(int(s) for s in input_shape) or width != n_outputs:
        raise DataError(f"{where} takes inputs {shape} → {width} classes, but the data to fine-tune on are "
                        f"{tuple(int(s) for s in input_shape)} with {n_outputs} classes; fine-tune a model trained "
                        "on stamps of the same size and channels (or re-cut the stamps)")
    return model, dict(zip(LINEAGE_TAGS, (str(uri), found["name"], str(mv.version), str(mv.run_id or ""))))
