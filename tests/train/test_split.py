"""Splitters: groups never straddle folds, class ratios are kept, the fixed hold-out is the val split."""

import numpy as np
import pytest

from skysieve.errors import ConfigError, DataError
from skysieve.train import grouped_stratified_kfold, make_folds, stratified_kfold


def _labels_groups(seed=0, n=600, n_groups=40):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, n_groups, n)
    labels = (rng.random(n) < 0.1).astype(int)
    return labels, groups


@pytest.mark.parametrize("k", [3, 5])
def test_grouped_kfold_never_puts_a_group_in_two_folds(k):
    labels, groups = _labels_groups()
    folds = grouped_stratified_kfold(labels, groups, k=k, seed=1)
    assert len(folds) == k
    held = np.concatenate([b for _, b in folds])
    assert np.array_equal(np.sort(held), np.arange(labels.size))  # every row held out exactly once
    for fit, out in folds:
        assert not set(groups[fit]) & set(groups[out])
    owners = {}
    for i, (_, out) in enumerate(folds):
        for g in np.unique(groups[out]):
            assert owners.setdefault(g, i) == i


@pytest.mark.parametrize("splitter", ["stratified", "grouped"])
def test_folds_keep_the_class_ratio(splitter):
    labels, groups = _labels_groups(n=2000, n_groups=200)
    if splitter == "stratified":
        folds = stratified_kfold(labels, k=5, seed=0)
    else:
        folds = grouped_stratified_kfold(labels, groups, k=5, seed=0)
    overall = labels.mean()
    tolerance = 0.005 if splitter == "stratified" else 0.03
    for fit, out in folds:
        assert abs(labels[out].mean() - overall) < tolerance
        assert abs(labels[fit].mean() - overall) < tolerance


def test_too_few_groups_is_a_data_error():
    labels = np.array([0, 1] * 10)
    groups = np.array([0, 1] * 10)
    with pytest.raises(DataError, match=r"2 distinct groups .* fewer than k_folds=3"):
        grouped_stratified_kfold(labels, groups, k=3, seed=0)


def test_too_few_positives_is_a_data_error():
    with pytest.raises(DataError, match="needs at least 5 training cutouts of each class"):
        stratified_kfold(np.array([0] * 20 + [1] * 2), k=5, seed=0)


def test_make_folds_on_a_dataset(tiny_cutouts):
    train, val = tiny_cutouts.indices("train"), tiny_cutouts.indices("val")
    groups = np.asarray(tiny_cutouts.catalog["group"]).astype(str)
    folds = make_folds(tiny_cutouts, splitter="group_kfold", k=2, seed=0)
    assert np.array_equal(np.sort(np.concatenate([f.score_rows for f in folds])), train)
    assert not set(groups[folds[0].score_rows]) & set(groups[folds[1].score_rows])
    (hold,) = make_folds(tiny_cutouts, splitter="holdout", k=5, seed=0)
    assert np.array_equal(hold.fit_rows, train) and np.array_equal(hold.score_rows, val)
    with pytest.raises(ConfigError, match="unknown splitter 'random'; known: group_kfold, holdout"):
        make_folds(tiny_cutouts, splitter="random", k=2, seed=0)
