"""Tiny seeded skies for the matched-filter tests: white noise, a toy CMB, clusters, sources."""

import numpy as np
import pytest
from astropy.table import Table

from skysieve.data.maps import SkyMaps
from skysieve.mf import ModelNoise
from tests.conftest import make_car_wcs

BANDS = ("90GHz", "148GHz", "219GHz")
FREQS = (90.0, 148.0, 219.0)
BEAMS = {"90GHz": 1.7, "148GHz": 1.2, "219GHz": 1.1}
WHITE = {"90GHz": 2.8, "148GHz": 2.6, "219GHz": 6.6}
NO_PS = {b: 0.0 for b in BANDS}
TCMB_UK = 2.7255e6


def toy_cmb_cl(lmax: int = 30000) -> Table:
    """A smooth CMB-like spectrum: D_ℓ = 6000 exp(−(ℓ/1000)^1.2) µK², as a cmb_spectrum table."""
    ell = np.arange(lmax + 1)
    d = 6000.0 * np.exp(-((ell / 1000.0) ** 1.2))
    cl = np.zeros(lmax + 1)
    cl[2:] = 2 * np.pi * d[2:] / (ell[2:] * (ell[2:] + 1.0))
    return Table({"ell": ell, "cl_tt": cl})


def model_noise(*, cmb: Table | None = None, bands=BANDS) -> ModelNoise:
    """The white-noise (+ CMB) model that matches :func:`make_sky`."""
    return ModelNoise(white_noise_uk_arcmin={b: WHITE[b] for b in bands}, ps_d3000_uk2={b: 0.0 for b in bands},
                      cmb_cl=cmb, sz_d3000_uk2=0.0, ksz_d3000_uk2=0.0)


def cluster_signal(shape, wcs, *, x, y, y_arcmin2, theta_c_arcmin, truncate=25.0, freqs=FREQS, bands=BANDS):
    """Beam-convolved tSZ of one beta-model cluster at pixel (x, y), per band, µK; shape (nband, ny, nx)."""
    from skysieve.sim.instrument import apply_beam
    from skysieve.sim.tsz import paint_beta_profiles, tsz_frequency_factor

    ra, dec = wcs.wcs_pix2world([[x, y]], 0)[0]
    ymap = paint_beta_profiles(shape, wcs, [ra], [dec], [y_arcmin2], theta_c_arcmin, truncate * theta_c_arcmin)
    return np.stack([np.asarray(apply_beam(ymap * TCMB_UK * tsz_frequency_factor(f), BEAMS[b]))
                     for f, b in zip(freqs, bands)])


def make_sky(shape=(192, 192), *, seed=0, cmb: Table | None = None, signal=None, bands=BANDS) -> SkyMaps:
    """White noise at the DeepSZ levels, optionally a CMB realisation (same in all bands) and a signal."""
    from skysieve.sim.cmb import cmb_map
    from skysieve.sim.instrument import apply_beam, white_noise

    wcs = make_car_wcs(shape)
    rng = np.random.default_rng(seed)
    sky = np.zeros((len(bands), *shape))
    if cmb is not None:
        c = cmb_map(shape, wcs, cmb, seed=rng)
        sky += np.stack([np.asarray(apply_beam(c, BEAMS[b])) for b in bands])
    for i, b in enumerate(bands):
        sky[i] += np.asarray(white_noise(shape, wcs, WHITE[b], seed=rng))
    if signal is not None:
        sky += signal
    freqs = tuple(float(b.removesuffix("GHz")) for b in bands)
    return SkyMaps(data=sky.astype(np.float32), wcs=wcs, bands=tuple(bands), freqs_ghz=freqs, unit="uK_CMB")


@pytest.fixture
def toy_cl() -> Table:
    return toy_cmb_cl()
