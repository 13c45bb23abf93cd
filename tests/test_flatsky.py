"""The one |ℓ| grid (src/skysieve/_flatsky.py): bit-identical to the two formulas it replaced."""

import numpy as np
import pytest
from pixell import enmap, utils

from skysieve._flatsky import ell_grid
from skysieve.mf._fourier import fourier_grid
from skysieve.sim._fields import rfft_modlmap

_ARCMIN_RAD = np.pi / (180.0 * 60.0)
SHAPES = [(64, 64), (64, 96), (63, 97), (96, 65), (1, 8), (7, 1)]


def _car(shape, pixel_arcmin, dec0):
    ny, nx = shape
    half_h, half_w = ny * pixel_arcmin / 120.0, nx * pixel_arcmin / 120.0
    box = np.deg2rad([[dec0 - half_h, 15.0 + half_w], [dec0 + half_h, 15.0 - half_w]])
    geo_shape, wcs = enmap.geometry(pos=box, res=pixel_arcmin * utils.arcmin, proj="car")
    assert tuple(geo_shape[-2:]) == shape
    return wcs


def _old_mf_ell(grid):
    """``mf/_fourier.py`` FourierGrid.ell before the shared function."""
    ly = 2.0 * np.pi * np.fft.fftfreq(grid.shape[0], d=grid.dy_arcmin * _ARCMIN_RAD)
    lx = 2.0 * np.pi * np.fft.rfftfreq(grid.shape[1], d=grid.dx_arcmin * _ARCMIN_RAD)
    return np.hypot(ly[:, None], lx[None, :])


def _old_sim_ell(shape, wcs):
    """``sim/_fields.py`` rfft_modlmap before the shared function."""
    ly, lx = enmap.laxes(shape, wcs)
    nx = shape[-1]
    return np.hypot(ly[:, None], np.abs(lx[: nx // 2 + 1])[None, :])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pixel_arcmin, dec0", [(0.25, 0.0), (0.5, -40.0), (1.7, 62.5)])
def test_both_callers_are_bit_identical_to_their_old_formula(shape, pixel_arcmin, dec0):
    wcs = _car(shape, pixel_arcmin, dec0)
    grid = fourier_grid(shape, wcs)
    np.testing.assert_array_equal(grid.ell, _old_mf_ell(grid), strict=True)
    np.testing.assert_array_equal(rfft_modlmap(shape, wcs), _old_sim_ell(shape, wcs), strict=True)


def test_the_grid_matches_the_rfft2_layout_and_ignores_the_step_sign():
    ell = ell_grid((6, 9), dy_rad=0.01, dx_rad=-0.02)
    assert ell.shape == np.fft.rfft2(np.zeros((6, 9))).shape == (6, 5)
    assert ell[0, 0] == 0.0
    assert ell[1, 0] == pytest.approx(2 * np.pi / (6 * 0.01))
    assert ell[0, 1] == pytest.approx(2 * np.pi / (9 * 0.02))
    np.testing.assert_array_equal(ell, ell_grid((6, 9), dy_rad=-0.01, dx_rad=0.02))
