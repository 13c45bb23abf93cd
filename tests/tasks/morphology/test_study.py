"""The transfer search: a trial that falls behind the finished ones is pruned, and the kept fit does not change."""

import keras
import numpy as np
import pytest

from skysieve.nets import build_net
from skysieve.tasks.morphology._study import tune_transfer
from skysieve.tasks.morphology.params import FinetuneMorphologyParams, PretrainMorphologyParams
from skysieve.tasks.morphology.transfer import Split, input_spec

PRE = PretrainMorphologyParams.model_validate({"net": {"width": 0.0625, "dense_units": 8, "dropout": 0.0},
                                               "learning_rate": 0.01, "augment": {"rotate": False, "flip": False,
                                                                                  "shift_px": 0}})


def _split(n: int, seed: int) -> Split:
    """A learnable task: a bright square in one of five places names the vote vector."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 5, n)
    x = rng.normal(0, 0.1, (n, 40, 40, 1)).astype("float32")
    for i, k in enumerate(kind):
        x[i, 4 + 7 * k: 10 + 7 * k, 4: 10] += 2.0
    votes = np.full((5, 5), 0.05) + 0.75 * np.eye(5)
    return Split(x, votes[kind].astype("float32"), np.arange(n))


def _tune(pruner: str):
    train, val = _split(96, 0), _split(40, 1)
    keras.utils.set_random_seed(3)
    source = build_net(PRE.net, inputs=input_spec(train.x), seed=3)
    # trial 0 (the params') learns; trial 1 trains at a vanishing rate, so it stays behind (one depth: one trace)
    cfg = FinetuneMorphologyParams.model_validate({
        "frozen_depth": 0, "lr_ratio": 1.0, "epochs": 6, "batch_size": 16, "patience": 6, "n_trials": 2,
        "depth_choices": [0], "lr_ratio_range": [1e-6, 2e-6], "temperature": False, "pruner": pruner,
        "warmup_epochs": 2, "seed": 5})
    return tune_transfer(source, PRE, cfg, train, val)


@pytest.fixture(scope="module")
def studies():
    return {p: _tune(p) for p in ("median", "none")}


def test_a_trial_behind_the_finished_one_is_pruned_at_the_first_epoch_allowed(studies):
    best, _ = studies["median"]
    first, second = best["trials"]
    assert first["state"] == "complete" and first["epochs"] == 6
    assert second["state"] == "pruned" and second["epochs"] == 3  # epochs 0, 1, 2: pruning starts at epoch 2
    assert best["n_trials"] == 2 and best["n_pruned"] == 1
    assert second["val_rmse"] > first["val_rmse"]


def test_without_a_pruner_the_same_trial_runs_to_the_end_and_the_kept_fit_is_the_same(studies):
    pruned_best, pruned_fit = studies["median"]
    full_best, full_fit = studies["none"]
    assert [t["state"] for t in full_best["trials"]] == ["complete", "complete"] and full_best["n_pruned"] == 0
    assert full_best["trials"][1]["epochs"] == 6
    assert full_best["frozen_depth"] == pruned_best["frozen_depth"] == 0
    assert full_best["val_rmse"] == pruned_best["val_rmse"]
    assert all(np.array_equal(a, b) for a, b in zip(full_fit.model.get_weights(), pruned_fit.model.get_weights()))
