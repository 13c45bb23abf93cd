"""Per-object test decisions as a JSON document: what a paired comparison of two model versions needs.

The evaluate / ensemble stages put it in their state JSON as
``test_predictions``; the registry stores it with each version, and the
promotion gate bootstraps the F1 difference of two versions over the same
test objects (:func:`skysieve.metrics.paired_bootstrap_difference`).
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from skysieve.errors import DataError

__all__ = ["PREDICTIONS_DOCUMENT", "predictions_document"]

#: Name of the document (and state key) holding a version's per-object test decisions.
PREDICTIONS_DOCUMENT = "test_predictions"


def predictions_document(ids: ArrayLike, labels: ArrayLike, decisions: Mapping[str, ArrayLike]) -> dict[str, Any]:
    """The per-object test decisions of each method, JSON-ready, for the ``test_predictions`` document.

    Parameters
    ----------
    ids : array-like of shape (n,)
        Test object ids (unique).
    labels : array-like of shape (n,)
        Truth, 0/1.
    decisions : mapping of str to array-like of shape (n,)
        Per method, 0/1 decisions at its registered threshold.

    Returns
    -------
    dict
        ``{"id": [...], "label": [...], "decisions": {method: [...]}}``.
    """
    ids = np.asarray(ids)
    if ids.dtype.kind == "S":  # FITS string columns read as bytes: JSON needs text
        ids = np.char.strip(np.char.decode(ids, "ascii"))
    y = np.asarray(labels).astype(int)
    if ids.ndim != 1 or y.shape != ids.shape or np.unique(ids).size != ids.size:
        raise DataError(f"test predictions need one unique id per label (got {ids.shape} ids, {y.shape} labels)")
    out = {}
    for method, d in decisions.items():
        d = np.asarray(d).astype(int)
        if d.shape != ids.shape:
            raise DataError(f"test predictions of '{method}' have shape {d.shape}; expected {ids.shape}")
        out[str(method)] = d.tolist()
    return {"id": ids.tolist(), "label": y.tolist(), "decisions": out}
