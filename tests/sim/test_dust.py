"""Dust: modified-blackbody scaling in CMB units and the power-law Gaussian template."""

import astropy.units as u
import numpy as np
import pytest
from astropy.modeling.models import BlackBody

from skysieve.config import DustParams
from skysieve.sim import dust_frequency_scaling, dust_map


def test_dust_scaling_rises_with_frequency_and_is_one_at_reference():
    cfg = DustParams()
    s = dust_frequency_scaling(np.array([90.0, 148.0, 219.0]), ref_freq_ghz=cfg.ref_freq_ghz, beta=cfg.beta,
                               temperature_k=cfg.temperature_k)
    assert s[0] < s[1] < s[2]
    assert s[2] == pytest.approx(1.0)
    assert 0.03 < s[0] < 0.2  # dust is ~10x fainter at 90 GHz than at 219 in µK_CMB


def test_dust_scaling_matches_astropy_blackbody_and_thermodynamic_units():
    beta, t_dust, ref = 1.6, 19.6, 219.0
    bb = BlackBody(temperature=t_dust * u.K)

    def in_kcmb(freq_ghz):
        nu = freq_ghz * u.GHz
        intensity = (nu / (ref * u.GHz)) ** beta * bb(nu).to(u.MJy / u.sr)
        return intensity.to_value(u.K, equivalencies=u.thermodynamic_temperature(nu, T_cmb=2.7255 * u.K))

    for freq in (90.0, 148.0, 353.0):
        expected = in_kcmb(freq) / in_kcmb(ref)
        got = dust_frequency_scaling(freq, ref_freq_ghz=ref, beta=beta, temperature_k=t_dust)
        assert got == pytest.approx(expected, rel=1e-6)


def test_dust_map_rms_and_spectral_slope(geometry, power_spectrum):
    cfg = DustParams(amplitude_uk=5.0, ell_index=-2.6)
    shape, wcs = geometry(128, 1.0)
    maps = [dust_map(shape, wcs, cfg, seed=s) for s in range(16)]
    assert np.sqrt(np.mean([np.var(m) for m in maps])) == pytest.approx(cfg.amplitude_uk, rel=0.2)
    edges = np.geomspace(300, 6000, 7)
    spectra = np.mean([power_spectrum(m, edges)[1] for m in maps], axis=0)
    ell = power_spectrum(maps[0], edges)[0]
    slope = np.polyfit(np.log(ell), np.log(spectra), 1)[0]
    assert slope == pytest.approx(cfg.ell_index, abs=0.15)


def test_dust_map_seeded(geometry):
    shape, wcs = geometry(32, 1.0)
    first, again = dust_map(shape, wcs, DustParams(), seed=9), dust_map(shape, wcs, DustParams(), seed=9)
    np.testing.assert_array_equal(first, again)
