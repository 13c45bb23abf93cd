"""Tiny seeded fixtures for the simulation tests: small patches, a power-law C_ell, a power estimator."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from pixell import enmap

from skysieve.config import ComponentsParams, CosmologyParams, PatchParams, SimulateSzParams
from skysieve.sim import make_geometry


@pytest.fixture(scope="session")
def cosmo() -> CosmologyParams:
    return CosmologyParams()


@pytest.fixture
def tiny_cfg() -> SimulateSzParams:
    """A 64 × 64-pixel (16′ × 16′) patch at 0.25′ with all components on."""
    return SimulateSzParams(patch=PatchParams(width_deg=16 / 60, height_deg=16 / 60))


@pytest.fixture
def components():
    """``components(cmb=True, ...)``: component switches, all off except those named ``True``."""

    def make(**on) -> ComponentsParams:
        return ComponentsParams(**{name: bool(on.get(name, False)) for name in ComponentsParams.model_fields})

    return make


@pytest.fixture(scope="session")
def powerlaw_cl() -> Table:
    """A synthetic spectrum C_ell = 1000 µK² (ell/500)^-2.5, ell = 2 … 12000, zero below."""
    ell = np.arange(12001)
    cl = np.where(ell >= 2, 1e3 * (np.maximum(ell, 1) / 500.0) ** -2.5, 0.0)
    return Table({"ell": ell, "cl_tt": cl * u.uK**2})


@pytest.fixture
def geometry():
    """``make_geometry`` of a square equatorial patch: ``geometry(n_pix, pixel_arcmin)``."""

    def make(n_pix: int, pixel_arcmin: float, *, dec_deg: float = 0.0):
        side = n_pix * pixel_arcmin / 60.0
        return make_geometry(PatchParams(width_deg=side, height_deg=side, pixel_arcmin=pixel_arcmin,
                                         dec_center_deg=dec_deg))

    return make


def binned_power(imap, edges, *, model=None):
    """Flat-sky power spectrum of a map binned in ell, with pixell's physical FFT normalisation.

    Returns ``(ell_mean, cl, n_modes, model_binned)``: ``cl`` in map-unit² sr,
    ``n_modes`` the Fourier pixels per bin and ``model_binned`` the average of
    ``model(ell)`` over the same Fourier pixels (``None`` without a model).
    """
    fmap = enmap.fft(imap, normalize="phys")
    ell = np.asarray(enmap.modlmap(imap.shape, imap.wcs)).ravel()
    idx = np.digitize(ell, edges) - 1
    good = (idx >= 0) & (idx < len(edges) - 1)
    nbin = len(edges) - 1

    def mean(values):
        return np.bincount(idx[good], weights=values[good], minlength=nbin) / np.maximum(n, 1)

    n = np.bincount(idx[good], minlength=nbin)
    power = (np.abs(np.asarray(fmap)) ** 2).ravel()
    return mean(ell), mean(power), n, (mean(model(ell)) if model is not None else None)


@pytest.fixture
def power_spectrum():
    """:func:`binned_power` as a fixture."""
    return binned_power
