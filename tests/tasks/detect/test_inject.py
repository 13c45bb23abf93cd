"""The isolated-cluster injection: one massive cluster per fresh field, scored as the evaluation scores."""

import numpy as np
import pytest
import yaml

from skysieve.config import load_params
from skysieve.errors import ConfigError
from skysieve.tasks.detect._inject import InjectionResult, isolated_draws, isolated_massive_recall, write_completeness


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({
        "simulate_detect": {"native_size_px": 512, "bin": 8},
        "evaluate_detect": {"tta": False},
        "inject_detect": {"n_fields": 2, "isolated_fields": 5, "seed": 7},
    }))
    return load_params(path)


class _Blind:
    """A detector that sees nothing: a flat heatmap below every threshold."""

    def predict_on_batch(self, x):
        n, ny, nx, _ = np.asarray(x).shape
        return np.zeros((n, ny // 2, nx // 2, 3), dtype=np.float32)


def test_each_isolated_field_holds_one_massive_cluster_in_the_redshift_range(params):
    draws = isolated_draws(params.inject_detect, params.evaluate_detect)
    assert len(draws) == 5 and all(len(d) == 1 for d in draws)
    m = np.array([d[0][0] for d in draws])
    z = np.array([d[0][1] for d in draws])
    assert (m >= params.evaluate_detect.massive_m200).all() and (m <= 10 ** 15.0).all()
    assert (z >= 0.1).all() and (z <= 0.4).all()
    assert draws == isolated_draws(params.inject_detect, params.evaluate_detect)  # seeded


def test_massive_threshold_above_the_injected_masses_is_a_config_error(params):
    e = params.evaluate_detect.model_copy(update={"massive_m200": 2e15})
    with pytest.raises(ConfigError, match="massive_m200 = 2e\\+15 is not below the top of inject_detect.log_m200_bins"):
        isolated_draws(params.inject_detect, e)


def test_a_blind_detector_recovers_none_and_the_report_says_so(params, tmp_path):
    iso = isolated_massive_recall(params, [_Blind()], 0.5, progress=False)
    assert (iso["n"], iso["recovered"], iso["recall"], iso["n_false"], iso["lo"]) == (5, 0, 0.0, 0, 0.0)
    assert 0 < iso["hi"] < 1
    assert sum(r["n"] for r in iso["by_z"]) == 5
    from astropy.table import Table

    result = InjectionResult(Table({"z": [0.2]}), [], 0.5, {"n": 1, "recovered": 0, "completeness": 0.0, "lo": 0.0,
                                                           "hi": 0.8, "n_false": 0}, iso)
    write_completeness(result, tmp_path)
    text = (tmp_path / "completeness.md").read_text()
    assert "Massive clusters alone in their fields" in text and "recovered 0/5 (0.000" in text
