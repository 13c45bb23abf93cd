"""Rendering in worker processes, batch-norm momentum, steps per learning-curve fit: behaviour, not timing."""

import numpy as np
import pytest

from skysieve.nets import InputSpec, build_net
from skysieve.tasks.morphology.experiments import fit_epochs
from skysieve.tasks.morphology.params import InceptionParams, SimulateMorphologyParams
from skysieve.tasks.morphology.sim import simulate_source

from .conftest import TINY


def _tiny_sim(workers: int, n: int = 12) -> SimulateMorphologyParams:
    cfg = dict(TINY["simulate_morphology"], workers=workers)
    cfg["source"] = {"n": n}
    return SimulateMorphologyParams.model_validate(cfg)


def test_the_stamps_do_not_depend_on_the_number_of_rendering_processes():
    one = simulate_source(_tiny_sim(1), seed=5)
    two = simulate_source(_tiny_sim(2), seed=5)
    assert one.stamps.shape == (12, 40, 40)
    np.testing.assert_array_equal(one.stamps, two.stamps)
    np.testing.assert_array_equal(one.votes, two.votes)
    assert list(one.table["snr"]) == list(two.table["snr"])
    # and the images differ from one another: each has its own noise generator
    assert not np.allclose(one.stamps[0], one.stamps[1])


def test_batch_norm_layers_use_the_configured_momentum():
    spec = InputSpec(shape=(40, 40, 1), mean=np.zeros(1), variance=np.ones(1))
    model = build_net(InceptionParams(width=0.0625, dense_units=8, bn_momentum=0.8), inputs=spec, seed=0)
    bns = [layer for layer in model.layers if layer.__class__.__name__ == "BatchNormalization"]
    assert bns and {layer.momentum for layer in bns} == {0.8}


@pytest.mark.parametrize(("n", "expected"), [(40, 30), (100, 15), (300, 8), (1000, 8), (32, 60)])
def test_small_subsets_get_at_least_min_steps(n, expected):
    epochs = fit_epochs(n, batch_size=32, epochs=8, min_steps=60)
    assert epochs == expected
    assert epochs * -(-n // 32) >= 60


def test_min_steps_zero_keeps_the_epoch_count():
    assert fit_epochs(40, batch_size=32, epochs=8, min_steps=0) == 8


def test_source_neighbours_are_drawn_when_asked_and_only_then():
    cfg = _tiny_sim(1)
    crowded = SimulateMorphologyParams.model_validate(
        dict(TINY["simulate_morphology"], workers=1, source={"n": 12, "neighbours_mean": 2.0}))
    assert (simulate_source(cfg, seed=5).table["n_neighbours"] == 0).all()
    counts = np.asarray(simulate_source(crowded, seed=5).table["n_neighbours"])
    assert counts.sum() > 0 and counts.mean() > 0.8  # Poisson(2): P(mean of 12 ≤ 0.8) < 1e-4


def _tiny_experiment_inputs():
    from skysieve.tasks.morphology.params import (ExperimentsMorphologyParams, FinetuneMorphologyParams,
                                                  PretrainMorphologyParams)
    from skysieve.tasks.morphology.transfer import Split, input_spec

    rng = np.random.default_rng(3)

    def split(n):
        y = rng.dirichlet(np.ones(5), n)
        return Split(rng.normal(size=(n, 40, 40, 1)).astype(np.float32), y, np.arange(n))

    train, val, test = split(16), split(6), split(6)
    pre = PretrainMorphologyParams.model_validate(TINY["pretrain_morphology"])
    ft = FinetuneMorphologyParams.model_validate({"epochs": 1, "batch_size": 8})
    cfg = ExperimentsMorphologyParams.model_validate({"sizes": [5, 10], "repeats": 1, "frozen_depths": [0],
                                                      "depth_repeats": 2, "depth_size": 8, "epochs": 2})
    source = build_net(pre.net, inputs=input_spec(train.x), seed=11)
    return source, pre, ft, cfg, train, val, test


def test_the_transfer_experiments_do_not_depend_on_the_number_of_worker_processes():
    from skysieve.tasks.morphology.experiments import transfer_experiments

    inputs = _tiny_experiment_inputs()
    curve1, depth1 = transfer_experiments(*inputs, workers=1)
    curve2, depth2 = transfer_experiments(*inputs, workers=2)
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert drop(curve1) == drop(curve2) and depth1 == depth2
    # 2 sizes × (scratch, fine-tuned), then two repeats of the frozen-depth fit, in that order
    assert [(r["mode"], r["size"], r["repeat"]) for r in curve1] == [
        (m, s, 0) for s in (5, 10) for m in ("scratch", "finetuned")]
    assert [(r["frozen_depth"], r["size"], r["repeat"]) for r in depth1] == [(0, 8, 0), (0, 8, 1)]
    # the fits differ (other subsets, seeds and starting points), so equality above is not trivial
    rmse = [r["rmse"] for r in curve1 + depth1]
    assert len({round(v, 9) for v in rmse}) == len(rmse)
