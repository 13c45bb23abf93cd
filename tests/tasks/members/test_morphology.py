"""Morphology that follows the galaxy type (skysieve.tasks.members._morphology) against the published relations."""

import numpy as np
import pytest

from skysieve.config import CosmologyParams
from skysieve.tasks.members._morphology import (SERSIC_GRID, bulge_sersic_index, bulge_to_total, hubble_type,
                                                 size_kpc)
from skysieve.tasks.members._population import draw_population
from skysieve.tasks.members.sim import colour_grid

from .conftest import tiny_members_cfg


def test_bulge_to_total_follows_simien_de_vaucouleurs():
    """B/T = 10^{-0.4 Δm}, Δm = 0.324x − 0.054x² + 0.0047x³ (x = T + 5): 1 for E, 0.57 for S0, 0.16 for Sbc."""
    assert bulge_to_total(-5.0) == pytest.approx(1.0)
    assert bulge_to_total(-2.0) == pytest.approx(10 ** (-0.4 * 0.6129), rel=1e-3)
    assert bulge_to_total(hubble_type(np.array([1.0])))[0] == pytest.approx(0.163, abs=0.002)  # Sbc, T = 4
    bt = bulge_to_total(hubble_type(np.linspace(0, 3, 31)))
    assert np.all(np.diff(bt) < 0) and bt[-1] < 0.01  # down the Hubble sequence to Im


@pytest.mark.parametrize(("m_r", "early", "log_r"), [
    (-22.0, True, 0.24 * 22 - 4.63),  # Shen et al. (2003) eq. 14
    (-22.0, False, 0.084 * 22 + 0.32 * np.log10(1 + 10 ** (0.4 * 1.48)) - 1.31),  # eq. 15
    (-18.0, True, 0.24 * 20 - 4.63),  # faint red galaxies: held at the M = −20 size
])
def test_sizes_follow_shen_2003(m_r, early, log_r):
    r = size_kpc(np.full(20000, m_r), np.full(20000, early), rng=np.random.default_rng(0))
    assert np.median(np.log10(r)) == pytest.approx(log_r, abs=0.01)
    sigma_ln = 0.25 + 0.23 / (1 + 10 ** (-0.8 * (m_r + 20.52)))  # eq. 16
    assert np.std(np.log(r)) == pytest.approx(sigma_ln, rel=0.03)


def test_sersic_index_by_type():
    n = bulge_sersic_index(np.r_[np.ones(5000, bool), np.zeros(5000, bool)], rng=np.random.default_rng(1))
    assert set(np.unique(n)) <= set(SERSIC_GRID)
    assert np.median(n[:5000]) == 4.0  # de Vaucouleurs-like ellipticals
    assert np.median(n[5000:]) in (1.5, 2.0)  # near-exponential bulges of disks (⟨n⟩ = 1.7)


def test_members_are_more_bulge_dominated_than_interlopers():
    """The morphology–density relation comes out of the class mix: members are mostly early types."""
    cfg = tiny_members_cfg(sample_scale=1.0)
    truth = draw_population(cfg, CosmologyParams(), colour_grid(cfg), rng=np.random.default_rng(2))
    member = np.asarray(truth["label"]) == 1
    n, bt = np.asarray(truth["sersic_n"]), np.asarray(truth["bulge_frac"])
    assert np.mean(n[member]) > np.mean(n[~member]) + 0.5
    assert np.mean(bt[member] > 0.5) > 0.6 > 0.4 > np.mean(bt[~member] > 0.5)
    # rest-frame magnitudes: a K-correction through the filters, not the observed F814W less the distance modulus
    assert np.all(np.isfinite(truth["abs_mag_r"])) and np.ptp(truth["abs_mag_r"]) > 5
