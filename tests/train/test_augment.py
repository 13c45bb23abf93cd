"""Dihedral augmentation: the 8 transforms, the fraction, training batches only."""

import numpy as np

from skysieve.train import TrainingBatches, augment_batch, dihedral, iter_batches


def test_the_eight_dihedral_transforms_are_distinct():
    img = np.arange(4 * 4 * 2, dtype=np.float32).reshape(1, 4, 4, 2)
    outs = [dihedral(img, k) for k in range(8)]
    assert np.array_equal(outs[0], img)
    assert len({o.tobytes() for o in outs}) == 8
    np.testing.assert_array_equal(dihedral(dihedral(img, 1), 3), img)  # quarter turn then three more


def test_fraction_zero_leaves_cutouts_and_one_transforms_all():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 3)).astype(np.float32)
    assert augment_batch(x, fraction=0.0, rng=rng) is x
    out = augment_batch(x, fraction=1.0, rng=rng)
    assert all(not np.array_equal(out[i], x[i]) for i in range(64))
    assert np.array_equal(np.sort(out.ravel()), np.sort(x.ravel()))  # pixels moved, none changed
    half = augment_batch(x, fraction=0.5, rng=np.random.default_rng(1))
    changed = np.mean([not np.array_equal(half[i], x[i]) for i in range(64)])
    assert 0.3 < changed < 0.7


def test_training_batches_are_augmented_but_evaluation_batches_never(tiny_cutouts):
    rows = tiny_cutouts.indices("train")
    batches = TrainingBatches(tiny_cutouts, rows, batch_size=16, seed=0, augment_fraction=1.0)
    x, _ = batches[0]
    plan = batches._plan[:16]
    assert not np.array_equal(x, tiny_cutouts.read(plan))
    val = tiny_cutouts.indices("val")
    got = np.concatenate([b[:n] for b, n in iter_batches(tiny_cutouts, val, batch_size=8)])
    np.testing.assert_array_equal(got, tiny_cutouts.read(val))
