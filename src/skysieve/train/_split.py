"""Splitters: which rows each fold trains on and which it holds out.

Every splitter works on the ``train`` rows of a dataset, except ``holdout``,
the fixed spatial split (train on ``train``, score ``val``). Splitters are
found by name in a registry filled by :func:`register_splitter`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from skysieve.errors import ConfigError, DataError

__all__ = [
    "Fold",
    "grouped_stratified_kfold",
    "make_folds",
    "register_splitter",
    "stratified_kfold",
]


@dataclass(frozen=True)
class Fold:
    """One fold: dataset rows to train on and rows held out (scored out of fold).

    Attributes
    ----------
    index : int
    fit_rows, score_rows : ndarray of int
        Row indices into the dataset, sorted.
    """

    index: int
    fit_rows: np.ndarray
    score_rows: np.ndarray


def stratified_kfold(labels: np.ndarray, *, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold on positions ``0..n-1``: each fold keeps the class ratio.

    Returns
    -------
    list of (fit_positions, held_out_positions), length ``k``
    """
    labels = np.asarray(labels)
    _check_classes(labels, k)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(a, b) for a, b in splitter.split(np.zeros(labels.size), labels)]


def grouped_stratified_kfold(
    labels: np.ndarray, groups: np.ndarray, *, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold that never puts one group (sky tile, cluster) in two folds.

    Class ratios are kept as well as whole groups allow.

    Returns
    -------
    list of (fit_positions, held_out_positions), length ``k``
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    _check_classes(labels, k)
    n_groups = np.unique(groups).size
    if n_groups < k:
        raise DataError(f"catalog column 'group' has {n_groups} distinct groups among the training rows, fewer "
                        f"than k_folds={k}; lower k_folds or use splitter: stratified_kfold")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(a, b) for a, b in splitter.split(np.zeros(labels.size), labels, groups)]


def _check_classes(labels: np.ndarray, k: int) -> None:
    counts = np.bincount(labels.astype(np.int64), minlength=2)
    if counts.min() < k:
        raise DataError(f"k_folds={k} needs at least {k} training cutouts of each class (got {counts[0]} negatives, "
                        f"{counts[1]} positives); lower k_folds or use splitter: holdout")


Splitter = Callable[..., list[Fold]]
_SPLITTERS: dict[str, Splitter] = {}


def register_splitter(name: str) -> Callable[[Splitter], Splitter]:
    """Register ``f(dataset, *, k, seed) -> list[Fold]`` under ``name`` (the params value of ``splitter``)."""

    def decorator(fn: Splitter) -> Splitter:
        _SPLITTERS[name] = fn
        return fn

    return decorator


def _train_rows(dataset) -> np.ndarray:
    rows = dataset.indices("train")
    if rows.size == 0:
        raise DataError(f"{dataset.catalog_path}: no rows with split == 'train'; re-make the cutouts")
    return rows


def _as_folds(rows: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[Fold]:
    return [Fold(i, np.sort(rows[a]), np.sort(rows[b])) for i, (a, b) in enumerate(pairs)]


@register_splitter("stratified_kfold")
def _stratified(dataset, *, k: int, seed: int) -> list[Fold]:
    rows = _train_rows(dataset)
    return _as_folds(rows, stratified_kfold(dataset.labels[rows], k=k, seed=seed))


@register_splitter("group_kfold")
def _grouped(dataset, *, k: int, seed: int) -> list[Fold]:
    rows = _train_rows(dataset)
    groups = np.char.strip(np.asarray(dataset.catalog["group"]).astype(str))[rows]
    return _as_folds(rows, grouped_stratified_kfold(dataset.labels[rows], groups, k=k, seed=seed))


@register_splitter("holdout")
def _holdout(dataset, *, k: int, seed: int) -> list[Fold]:
    return [Fold(0, np.sort(_train_rows(dataset)), np.sort(dataset.indices("val")))]


def make_folds(dataset, *, splitter: str, k: int, seed: int) -> list[Fold]:
    """The folds of ``dataset`` under the named splitter.

    Parameters
    ----------
    dataset : CutoutDataset
    splitter : {"stratified_kfold", "group_kfold", "holdout"} or a registered name
    k : int
        Number of folds (ignored by ``holdout``, which has one).
    seed : int

    Raises
    ------
    ConfigError
        Unknown splitter name.
    DataError
        Too few rows, classes or groups for ``k`` folds.
    """
    try:
        fn = _SPLITTERS[splitter]
    except KeyError:
        raise ConfigError(f"splitter: unknown splitter {splitter!r}; known: {', '.join(sorted(_SPLITTERS))}") from None
    return fn(dataset, k=k, seed=seed)
