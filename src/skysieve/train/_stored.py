r"""Training on cutouts stored after the model's parameter-free input layers (``TrainParams.store_inputs``).

Every model begins with :func:`skysieve.nets.input_layers` — per-cutout
centring, optionally the colour-difference images and the asinh stretch with
its sorts of the outer ring.  They hold no weights, so the network splits as

.. math:: f(x) = b\bigl(h(x)\bigr),

a fixed *head* h and a trainable *body* b.  The training augmentation draws
elements g of the dihedral group D4 (right-angle rotations and flips), and
h commutes with each of them, :math:`h(g\,x) = g\,h(x)`: the spatial mean,
the centred circular aperture (centre at ((n − 1)/2, (n − 1)/2)) and the
outer ring are each mapped onto themselves, so the medians, the aperture
sums and the pixelwise stretch see the same values (the sums in another
order: equal to rounding, ``benchmarks/bench_input_layers.py``).  Hence
training b on :math:`g\,h(x)` is training f on :math:`g\,x`, and h needs to
run once per cutout instead of once per cutout per epoch — about 40 % of an
epoch of a small net with the asinh stretch (``docs/benchmarks.md``).

:func:`split_input_layers` finds the split, :func:`store_inputs` applies h to
the fold's rows and returns a :class:`StoredInputs` that the batch streams and
the validation monitor read like the cutout file.  The model trained and
returned is still the whole network f (the body's layers are its layers), so
what is saved, registered and run by ``skysieve catalog`` takes raw cutouts
as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["StoredInputs", "split_input_layers", "store_inputs"]

#: The input layers h may hold (:func:`skysieve.nets.input_layers`); all are weightless and commute with D4.
_HEAD_LAYERS = ("center", "colour_difference", "asinh_stretch")


def split_input_layers(model):
    """``(head, body)`` of a model whose input layers end in ``colour_difference`` or ``asinh_stretch``.

    ``head`` maps raw cutouts to the last input layer's output; ``body`` maps
    that to the model's output and shares every layer (and weight) with
    ``model``.  ``None`` when the model has only the centring (nothing worth
    storing) or its leading layers are not the known weightless input layers.
    """
    import keras

    names = [layer.name for layer in model.layers]
    lead = []
    for name in names[1:]:  # names[0] is the input
        if name not in _HEAD_LAYERS:
            break
        lead.append(name)
    if not lead or lead[-1] == "center":
        return None
    last = model.get_layer(lead[-1])
    if any(model.get_layer(name).weights for name in lead):
        return None
    head = keras.Model(model.input, last.output, name=f"{model.name}_head")
    body = keras.Model(last.output, model.output, name=f"{model.name}_body")
    return head, body


class StoredInputs:
    """Rows of a cutout dataset held in memory after the input layers; read like the dataset.

    Only the rows stored can be read; the catalog, labels, splits and dense
    targets are the underlying dataset's.

    Parameters
    ----------
    dataset : CutoutDataset
    rows : ndarray of int
        Dataset rows, in the order of ``images``.
    images : ndarray of shape (len(rows), ny, nx, nchan'), float32
    """

    def __init__(self, dataset, rows: np.ndarray, images: np.ndarray):
        self.base = dataset
        self.tensor_path: Path = dataset.tensor_path
        self.catalog_path: Path = dataset.catalog_path
        self.catalog = dataset.catalog
        self.channels = tuple(dataset.channels)
        self.images = np.ascontiguousarray(images, dtype=np.float32)
        self.shape = (len(dataset), *self.images.shape[1:])
        self._position = np.full(len(dataset), -1, dtype=np.int64)
        self._position[np.asarray(rows, dtype=np.int64)] = np.arange(len(rows))

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def labels(self) -> np.ndarray:
        return self.base.labels

    def indices(self, split: str) -> np.ndarray:
        return self.base.indices(split)

    def read(self, rows) -> np.ndarray:
        """The stored images of dataset ``rows``, in the order asked for (a copy)."""
        position = self._position[np.asarray(rows, dtype=np.int64)]
        if position.size and position.min() < 0:
            missing = np.asarray(rows)[position < 0]
            raise IndexError(f"rows {missing[:5].tolist()} were not stored (store_inputs holds the fold's rows only)")
        return self.images[position]


def store_inputs(head, dataset, rows: np.ndarray, *, batch_size: int) -> StoredInputs:
    """Apply ``head`` to the dataset's ``rows`` once, batch by batch, and keep the result in memory."""
    import keras

    from skysieve.train._stream import iter_batches

    rows = np.unique(np.asarray(rows, dtype=np.int64))
    parts = []
    for x, n_valid in iter_batches(dataset, rows, batch_size=batch_size):
        parts.append(keras.ops.convert_to_numpy(head(x, training=False))[:n_valid].astype(np.float32))
    return StoredInputs(dataset, rows, np.concatenate(parts))
