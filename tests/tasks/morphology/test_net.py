"""The Table 1 network: shapes, parameter count at the paper's width, blocks to freeze; the power-law fit."""

import numpy as np
import pytest

from skysieve.nets import InputSpec, build_net
from skysieve.tasks.morphology.evaluate import power_law_fit
from skysieve.tasks.morphology.net import N_BLOCKS, conv_blocks
from skysieve.tasks.morphology.params import InceptionParams

SPEC = InputSpec(shape=(80, 80, 1), mean=np.zeros(1), variance=np.ones(1))


def test_the_paper_width_has_table_1_shapes_and_about_its_parameter_count():
    model = build_net(InceptionParams(width=1.0, dense_units=1024), inputs=SPEC, seed=0)
    assert model.get_layer("block1_relu").output.shape[1:] == (74, 74, 64)  # conv 7×7/64, valid
    assert model.get_layer("block2_relu").output.shape[1:] == (32, 32, 128)  # conv 6×6/128 after a 2× pool
    assert model.get_layer("block8_concat").output.shape[1:3] == (4, 4)
    assert model.get_layer("head_flatten").output.shape[-1] == 1024  # 2×2×256
    assert model.output_shape == (None, 5)
    assert 4.0e6 < model.count_params() < 7.0e6  # the paper: ~5.5 M


def test_the_narrow_default_outputs_probabilities_and_has_eight_freezable_blocks():
    model = build_net(InceptionParams(), inputs=SPEC, seed=0)
    p = np.asarray(model(np.random.default_rng(0).normal(size=(3, 80, 80, 1)).astype("float32"), training=False))
    assert p.shape == (3, 5) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    blocks = conv_blocks(model)
    assert len(blocks) == N_BLOCKS and all(blocks)
    assert model.count_params() < 2e5


def test_power_law_fit_recovers_a_known_curve_and_says_what_doubling_buys():
    n = np.array([50, 100, 200, 400, 800], dtype=float)
    rmse = 0.5 * n**-0.6 + 0.08
    fit = power_law_fit(n, rmse)
    assert fit["b"] == pytest.approx(0.6, rel=0.05) and fit["c"] == pytest.approx(0.08, abs=0.005)
    assert fit["gain_doubling"] == pytest.approx(0.5 * 800**-0.6 - 0.5 * 1600**-0.6, rel=0.05)
    assert np.isnan(power_law_fit(n[:2], rmse[:2])["b"])
