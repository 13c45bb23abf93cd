"""``skysieve catalog --model models:/morphology-cnn@champion --stamps DIR``: per-band class probabilities.

``DIR`` is a cutout dataset (``cutouts.h5`` + ``catalog.fits``) of stamps cut
at 4 Petrosian radii and resampled to the model's size, one row per
(galaxy, band) with columns ``group`` (the galaxy), ``band``, ``ra``, ``dec``.
The catalog has one row per galaxy: ``{band}_P{class}`` for every band the
model was fine-tuned on (NaN where the galaxy has no stamp in that band),
``P{class}`` the mean over the galaxy's bands, ``n_bands`` and ``map_class``.
"""

import inspect
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["CATALOG_HELP", "build_catalog_table", "catalog_options", "make_catalog"]

CATALOG_HELP = ("morphology: --stamps DIR, a cutout dataset of Petrosian-cut stamps with `group` (galaxy) and "
                "`band` columns; writes one row per galaxy with {band}_P{class}, the band-combined P{class} and "
                "map_class.")


def catalog_options() -> tuple[inspect.Parameter, ...]:
    """The ``--stamps`` option."""
    return (inspect.Parameter("stamps", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[Path | None, typer.Option(
                                  help="morphology: cutout dataset directory of galaxy stamps (cutouts.h5 + "
                                       "catalog.fits with group, band)")]),)


def build_catalog_table(galaxy, band, ra, dec, proba, *, bands: tuple[str, ...], classes: tuple[str, ...]):
    """Pivot per-image probabilities (n, k) into one row per galaxy (an astropy Table).

    ``P{class}`` is the mean of the class probability over the galaxy's
    bands; ``map_class`` the class with the largest combined probability.
    """
    import numpy as np
    from astropy.table import Table

    galaxy, band = np.asarray(galaxy), np.asarray(band).astype(str)
    ids, first = np.unique(galaxy, return_index=True)
    row = np.searchsorted(ids, galaxy)
    cols: dict = {"galaxy": ids, "ra": np.asarray(ra)[first], "dec": np.asarray(dec)[first]}
    for b in bands:
        for j, c in enumerate(classes):
            v = np.full(len(ids), np.nan)
            sel = band == b
            v[row[sel]] = proba[sel, j]
            cols[f"{b}_P{c}"] = v
    total = np.zeros((len(ids), len(classes)))
    np.add.at(total, row, proba)
    n = np.bincount(row, minlength=len(ids))
    mean = total / n[:, None]
    for j, c in enumerate(classes):
        cols[f"P{c}"] = mean[:, j]
    cols["n_bands"] = n
    cols["map_class"] = np.array(classes)[np.argmax(mean, axis=1)]
    return Table(cols)


def make_catalog(ref, *, out, options, given, truth, batch_size, progress, echo, model=None) -> None:
    """Classify every stamp of ``--stamps`` with the registered network and write the per-galaxy table."""
    import mlflow.keras
    import numpy as np

    from skysieve.catalog import CatalogResult, file_sha256, model_header, write_catalog
    from skysieve.data import open_dataset
    from skysieve.errors import ConfigError, DataError
    from skysieve.tasks.morphology.params import CLASSES

    stamps = options.get("stamps")
    if stamps is None:
        raise ConfigError(f"{ref.where} classifies galaxy stamps: give --stamps DIR (a cutout dataset)")
    data = open_dataset(stamps)
    for col in ("group", "band"):
        if col not in data.catalog.colnames:
            raise DataError(f"{data.catalog_path}: no column '{col}'; the morphology catalog needs `group` (galaxy) "
                            "and `band` per stamp")
    expected = tuple(int(s) for s in ref.tags.get("morphology.input_shape", "80x80x1").split("x"))
    if tuple(data.shape[1:]) != expected:
        raise DataError(f"{data.tensor_path}: stamps of shape {tuple(data.shape[1:])}, but {ref.where} takes "
                        f"{expected}; cut the stamps at 4 Petrosian radii and resample to {expected[0]}×{expected[1]}")
    bands = tuple(ref.tags.get("morphology.bands", "").split(",")) if ref.tags.get("morphology.bands") else ()
    band = np.char.strip(np.asarray(data.catalog["band"]).astype(str))
    unknown = sorted(set(band) - set(bands)) if bands else []
    if unknown:
        raise DataError(f"{data.catalog_path}: bands {unknown} are not among those {ref.where} was fine-tuned on "
                        f"({', '.join(bands)}); drop those stamps or fine-tune on them")
    net = model if model is not None else mlflow.keras.load_model(f"models:/{ref.name}/{ref.version}")
    proba = np.concatenate([np.asarray(net.predict(data.read(np.arange(s, min(s + batch_size, len(data)))),
                                                   verbose=0), dtype=np.float64)
                            for s in range(0, len(data), batch_size)])
    if not np.isfinite(proba).all():
        raise DataError(f"{data.tensor_path}: the network gave non-finite probabilities (non-finite pixels?); "
                        "run `skysieve validate morphology` on the stamps")
    proba /= proba.sum(axis=1, keepdims=True)
    table = build_catalog_table(data.catalog["group"], band, data.catalog["ra"], data.catalog["dec"], proba,
                                bands=bands or tuple(sorted(set(band))), classes=CLASSES)
    head = model_header(ref, task="morphology")
    table.meta.update({**head, "SRCMODEL": ref.tags.get("transfer.source_uri", ""),
                       "STMPDIR": str(Path(data.tensor_path).resolve().parent),
                       "STMP_SHA": file_sha256(data.tensor_path)[:64], "CAT_SHA": file_sha256(data.catalog_path)[:64],
                       "CODEVER": head["SKYSVER"], "COMBINE": "mean over bands"})
    write_catalog(CatalogResult(table=table, summary={"n_galaxies": len(table), "n_stamps": len(data)}), out)
    counts = {c: int((table["map_class"] == c).sum()) for c in CLASSES}
    echo(f"wrote {out}: {len(table)} galaxies from {len(data)} stamps; MAP classes {counts}")
