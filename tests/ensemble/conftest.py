"""Seeded MF SNRs and CNN probabilities with DeepSZ's character: rare positives, complementary methods."""

import numpy as np
import pandas as pd
import pytest


def make_scores(n: int, *, seed: int, positive_rate: float = 0.03) -> pd.DataFrame:
    """``label``, ``cnn_prob``, ``mf_snr`` for ``n`` cutouts.

    Both methods see a latent cluster strength; the MF also responds to compact
    high-z clusters, the CNN loses clusters near the cutout edge, so each
    catches positives the other misses.  Most CNN probabilities are exactly 0
    (ties), as in DeepSZ figure 5.
    """
    rng = np.random.default_rng(seed)
    y = rng.random(n) < positive_rate
    strength = np.where(y, rng.lognormal(0.0, 0.5, n), 0.0)
    edge = rng.random(n) < 0.3
    compact = rng.random(n) < 0.3
    mf = rng.normal(0, 1, n) + 3.0 * strength * np.where(compact, 1.6, 0.8)
    logit = -4.0 + rng.normal(0, 1.2, n) + 4.0 * strength * np.where(edge, 0.4, 1.2)
    cnn = 1 / (1 + np.exp(-logit))
    cnn[cnn < 0.01] = 0.0
    return pd.DataFrame({"label": y.astype(int), "cnn_prob": cnn, "mf_snr": mf})


@pytest.fixture(scope="session")
def val_test():
    """A 6000-cutout validation table and a 6000-cutout test table."""
    return make_scores(6000, seed=1), make_scores(6000, seed=2)
