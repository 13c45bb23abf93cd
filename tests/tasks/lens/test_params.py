"""The lens learning sections: engine sections with lens defaults, partial YAML laid over them."""

import pytest
import yaml

from skysieve.config import Params, TrainParams, TuneParams, load_params
from skysieve.errors import ConfigError
from skysieve.tasks.lens._learning_params import LensEvaluateParams


def _load(tmp_path, sections):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(sections))
    return load_params(path)


def test_lens_sections_are_the_engines_with_lens_defaults():
    p = Params()
    assert isinstance(p.train_lens, TrainParams) and isinstance(p.tune_lens, TuneParams)
    assert p.train_lens.net.name == "vgg" and p.train_lens.splitter == "group_kfold"
    # Lens light out with aperture ratios; the SZ ResNet takes the CMB out with unit ratios.
    assert p.train_lens.net.colour_difference and p.train_lens.net.colour_ratio == "aperture"
    assert p.train_sz.net.colour_difference and p.train_sz.net.colour_ratio == "unit"
    assert p.train_sz.net.name == "resnet_small"  # the SZ defaults are untouched
    # The pixel-difference noise (ring_diff) measured no better on the lens set: every search keeps the ring MAD.
    assert p.train_lens.net.stretch_noise == "ring_mad" and p.train_sz.net.stretch_noise == "ring_mad"
    assert set(p.tune_lens.search_space) == {"optimizer.learning_rate", "net.filters", "augment.fraction"}
    assert p.evaluate_lens.fixed_threshold == 0.5 and p.register_lens.model_name == "skysieve-lens-cnn"


def test_a_partial_section_keeps_the_lens_defaults(tmp_path):
    p = _load(tmp_path, {"train_lens": {"epochs": 20, "k_folds": 10, "optimizer": {"learning_rate": 0.003},
                                        "net": {"filters": 16}},
                         "tune_lens": {"n_trials": 30}})
    t = p.train_lens
    assert (t.epochs, t.k_folds, t.net.name, t.net.filters, t.net.dense_units) == (20, 10, "vgg", 16, 32)
    assert (t.optimizer.name, t.optimizer.learning_rate) == ("adam", 0.003)
    assert p.tune_lens.n_trials == 30 and "net.filters" in p.tune_lens.search_space


def test_another_net_or_search_space_replaces_the_default(tmp_path):
    p = _load(tmp_path, {"train_lens": {"net": {"name": "sc_vgg"}},
                         "tune_lens": {"search_space": {"batch_size": {"type": "categorical", "choices": [16, 32]}}}})
    assert p.train_lens.net.name == "sc_vgg" and p.train_lens.net.filters == 16  # ScVggParams' own default
    assert not p.train_lens.net.colour_difference
    assert list(p.tune_lens.search_space) == ["batch_size"]


def test_lens_section_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'train_lens.epoch'"):
        _load(tmp_path, {"train_lens": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"evaluate_lens.theta_e_bins_arcsec: .*strictly increasing"):
        _load(tmp_path, {"evaluate_lens": {"theta_e_bins_arcsec": [0.5, 0.2]}})
    with pytest.raises(ConfigError, match=r"register_lens.model_name"):
        _load(tmp_path, {"register_lens": {"model_name": "bad name"}})
    assert LensEvaluateParams(operating_point="crossing").operating_point == "crossing"
