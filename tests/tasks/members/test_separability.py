"""The simulation's ceiling on its true properties (skysieve.tasks.members.separability)."""

import numpy as np
import pytest

from skysieve.config import CosmologyParams
from skysieve.tasks.members.params import BAND_CONFIGS
from skysieve.tasks.members.separability import FEATURE_SETS, simulate_truth, truth_separability_rows

from .conftest import tiny_members_cfg


@pytest.fixture(scope="module")
def truth():
    # three clusters at the paper's Table 1 counts × 0.4: ~530 sources, drawn without pixels in about a second
    return simulate_truth(tiny_members_cfg(sample_scale=0.4), CosmologyParams())


def test_simulate_truth_matches_the_rendered_simulation(members_cfg, members_sim):
    """The pixel-free draw is the simulation's own truth: same sources, same magnitudes."""
    _, rendered = members_sim
    t = simulate_truth(members_cfg, CosmologyParams())
    assert len(t) == len(rendered)
    np.testing.assert_array_equal(t["label"], rendered["label"])
    np.testing.assert_allclose(t["mag_F814W"], rendered["mag_F814W"])


def test_separability_rows(truth):
    bands = BAND_CONFIGS["mixed"]
    rows = truth_separability_rows(truth, bands=bands, reference="F814W", mag_noise=0.05, n_bootstrap=50, seed=1)
    assert [r["features"] for r in rows] == list(FEATURE_SETS)
    for r in rows:
        assert r["n"] == len(truth) and r["n_members"] == int(np.sum(truth["label"]))
        assert r["roc_auc_lo"] <= r["roc_auc"] <= r["roc_auc_hi"]
        # colours separate members well above chance, but not perfectly (interlopers near the cluster redshift)
        assert 0.75 < r["roc_auc"] < 0.995
        assert 0.4 < r["purity_at_c85"] <= 1.0
        assert r["purity_at_c85_lo"] <= r["purity_at_c85"] <= r["purity_at_c85_hi"]
        assert 0.0 <= r["near_share_of_fp_c85"] <= 1.0
    # a few per cent of the non-members sit on the red sequence, far fewer than the members
    assert 0.0 < rows[0]["nonmembers_within_1sigma_rs"] < 0.3


def test_separability_sanity_redshift_is_perfect(truth):
    """With the true redshift as a 'magnitude' (z_true in place of F435W) the label is recovered almost exactly."""
    t = truth.copy()
    t["mag_F435W"] = 100 * np.abs(np.asarray(t["z_true"]) - np.asarray(t["z_cluster"]))
    rows = truth_separability_rows(t, bands=("F435W", "F814W"), reference="F814W", mag_noise=0.0, n_bootstrap=20)
    assert rows[0]["roc_auc"] > 0.97


def test_separability_bad_input(truth):
    with pytest.raises(ValueError, match="reference band"):
        truth_separability_rows(truth, bands=("F435W", "F606W"), reference="F814W")
    one = truth[np.asarray(truth["label"]) == 1]
    with pytest.raises(ValueError, match="one class"):
        truth_separability_rows(one, bands=BAND_CONFIGS["mixed"], reference="F814W")


def test_experiments_command_writes_the_separability_table(tmp_path):
    """`skysieve experiments members --which separability` on the tiny params: CSV + Markdown, no pixels."""
    from pathlib import Path

    from astropy.table import Table

    from skysieve.tasks.members._commands import experiments_members

    params = Path(__file__).parents[2] / "tiny_params.yaml"
    out = tmp_path / "sep"
    experiments_members(params=params, out=out, which=["separability"], separability_scale=0.3, mag_noise=0.05)
    rows = Table.read(out / "separability.csv")
    assert list(rows["features"]) == list(FEATURE_SETS)
    assert np.all((rows["roc_auc"] > 0.5) & (rows["roc_auc"] < 1.0))
    assert "ROC-AUC" in (out / "separability.md").read_text()
    # separability alone writes no experiments.md (it used to write one holding only its title)
    assert not (out / "experiments.md").exists()


def test_purity_at_completeness_and_the_share_of_near_interlopers():
    """Hand-made scores: 4 members, 4 non-members (2 'near'); completeness 0.75 first reached at the 4th source."""
    from skysieve.tasks.members.separability import _purity_at

    y = np.array([1, 0, 1, 1, 0, 1, 0, 0])
    score = np.linspace(1, 0, 8)
    near = np.array([0, 1, 0, 0, 0, 0, 1, 0], bool)
    purity, share = _purity_at(y, score, 0.75, near)
    assert purity == pytest.approx(3 / 4) and share == 1.0  # the one false positive above it is 'near'
    purity, share = _purity_at(y, score, 1.0, near)
    assert purity == pytest.approx(4 / 6) and share == 0.5
