"""The evaluate_sz, ensemble_sz and register_sz params sections."""

import pytest
import yaml

from skysieve.config import EnsembleParams, EvaluateParams, Params, load_params
from skysieve.errors import ConfigError
from skysieve.tasks.sz.params import RegisterParams


def test_defaults_are_in_the_root_params():
    p = Params()
    assert p.evaluate_sz == EvaluateParams() and p.ensemble_sz == EnsembleParams() and p.register_sz == RegisterParams()
    assert p.evaluate_sz.mass_bins_msun[0] == 5e13 and p.evaluate_sz.mass_bins_msun[-1] == 1e15
    assert p.register_sz.ensemble_primary_method == "rank_product"


def test_bad_values_name_file_key_and_value(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"evaluate_sz": {"redshift_bins": [0.5, 0.25]}}))
    with pytest.raises(ConfigError, match=r"evaluate_sz.redshift_bins: redshift_bins must be at least two strictly "
                                          r"increasing bin edges \(got \[0.5, 0.25\]\)"):  # fmt: skip
        load_params(path)
    path.write_text(yaml.safe_dump({"ensemble_sz": {"and_grid_size": 1}}))
    with pytest.raises(ConfigError, match=r"ensemble_sz.and_grid_size"):
        load_params(path)
    path.write_text(yaml.safe_dump({"register_sz": {"ensemble_model_name": "my model"}}))
    with pytest.raises(ConfigError, match=r"letters, digits.*'my model'"):
        load_params(path)
    path.write_text(yaml.safe_dump({"register_sz": {"ensemble_primary_method": "best"}}))
    with pytest.raises(ConfigError, match=r"register_sz.ensemble_primary_method"):
        load_params(path)
