"""Streaming batches: fixed shapes, oversampling ratios, class weights, per-epoch reshuffles, reads per batch."""

import numpy as np
import pytest

from skysieve.train import TrainingBatches


@pytest.mark.parametrize("ratio", [1.0, 3.0])
def test_oversampling_reaches_the_effective_ratio(tiny_cutouts, ratio):
    rows = tiny_cutouts.indices("train")
    batches = TrainingBatches(tiny_cutouts, rows, batch_size=32, seed=0, steps=40,
                              positive_fraction=1 / (1 + ratio))
    y = np.concatenate([batches[i][1][:, 0] for i in range(len(batches))])
    assert y.size == 40 * 32
    assert (1 - y.mean()) / y.mean() == pytest.approx(ratio, rel=0.15)


def test_class_weights_come_as_sample_weights_and_epochs_reshuffle(tiny_cutouts):
    rows = tiny_cutouts.indices("train")
    batches = TrainingBatches(tiny_cutouts, rows, batch_size=16, seed=0, class_weight=(0.5, 4.0))
    x, y, w = batches[0]
    assert x.shape == (16, 16, 16, 3) and y.shape == (16, 1)
    np.testing.assert_array_equal(w, np.where(y[:, 0] == 1, 4.0, 0.5))
    assert len(batches) == rows.size // 16
    first = batches._plan.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first, batches._plan)
    assert set(first) <= set(rows) and set(batches._plan) <= set(rows)


def test_a_batch_reads_only_its_own_rows(tiny_cutouts):
    batches = TrainingBatches(tiny_cutouts, tiny_cutouts.indices("train"), batch_size=8, seed=0)
    asked = []
    real = batches.reader.read
    batches.reader.read = lambda rows: asked.append(np.asarray(rows)) or real(rows)
    batches[3]
    assert len(asked) == 1 and asked[0].size == 8
