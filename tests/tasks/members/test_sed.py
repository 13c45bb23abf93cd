"""Colours through the HST filter curves against independent expectations."""

import numpy as np
import pytest

from skysieve.tasks.members.sed import ColourGrid, band_magnitudes, template_sed


def test_a_flat_f_nu_spectrum_has_zero_ab_colours():
    """AB magnitudes are defined so that constant f_ν gives equal magnitudes in every band (sedpy, real curves)."""
    from sedpy import observate

    wave = np.geomspace(3000, 20000, 4000)
    flam = 1e-17 * (5500.0 / wave) ** 2  # f_λ ∝ λ⁻² ⇔ f_ν constant
    mags = observate.getSED(wave, flam, observate.load_filters(["acs_wfc_f435w", "acs_wfc_f814w", "wfc3_ir_f160w"]))
    assert np.ptp(mags) < 1e-3


def test_templates_are_normalised_and_interpolated():
    wave, e = template_sed(0.0)
    _, mid = template_sed(0.5)
    _, sbc = template_sed(1.0)
    assert np.interp(5500.0, wave, e) == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_allclose(mid, 0.5 * (e + sbc))


def test_red_galaxies_redden_with_redshift_and_blue_types_are_bluer():
    """The 4000 Å break moves through F606W between z = 0.2 and 0.6, so an E galaxy's F435W − F814W grows."""
    grid = ColourGrid.build(("F435W", "F606W", "F814W"), ("acs_wfc_f435w", "acs_wfc_f606w", "acs_wfc_f814w"),
                            reference="F814W", z_range=(0.1, 0.8))
    c = grid.colours(np.array([0.0, 0.0, 3.0]), np.array([0.2, 0.6, 0.6]))
    assert c[1, 0] > c[0, 0] + 0.5  # E: redder at higher z
    assert c[2, 0] < c[1, 0] - 1.0  # Im: much bluer than E at the same z
    assert np.all(c[:, 2] == 0)      # the reference band
    # the grid agrees with a direct integration off the grid nodes
    direct = band_magnitudes(np.array([0.0]), 0.6, ("acs_wfc_f435w", "acs_wfc_f814w"))
    assert c[1, 0] == pytest.approx(direct[0, 0] - direct[0, 1], abs=0.05)


def test_k_correction_of_a_flat_fnu_source():
    """f_ν = const gives K = −2.5 log10(1 + z) between any two bands (Hogg et al. 2002); the CWW grid at z = 0
    is the F814W − r colour of the template."""
    from skysieve.tasks.members.sed import KCorrectionGrid, band_magnitudes, k_correction

    wave = np.geomspace(500.0, 40000.0, 4000)
    for z in (0.0, 0.3, 1.2):
        k = k_correction(wave, wave**-2.0, z, observed="acs_wfc_f814w", rest="sdss_r0")
        assert k[0] == pytest.approx(-2.5 * np.log10(1 + z), abs=2e-3)
    grid = KCorrectionGrid.build("acs_wfc_f814w", "sdss_r0", dz=0.1, dt=1.0)
    colour = np.diff(band_magnitudes(np.array([0.0]), 0.0, ("sdss_r0", "acs_wfc_f814w")))[0, 0]
    assert grid(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(colour, abs=0.01)
    # an elliptical's K grows with z (the 4000 Å break moves through F814W)
    assert grid(np.array([0.0]), np.array([1.0]))[0] > grid(np.array([0.0]), np.array([0.4]))[0] + 0.5
