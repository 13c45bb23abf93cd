"""Galactic dust: a Gaussian field with a power-law spectrum and a modified-blackbody SED.

The template at ``ref_freq_ghz`` has :math:`C_\\ell \\propto \\ell^{n}` (``ell_index``,
steep and negative, so large scales dominate) normalised so that its expected
pixel rms on the patch is ``amplitude_uk``.  In another band it is scaled by

.. math:: s(\\nu) = \\frac{\\nu^{\\beta} B_\\nu(T_d)\\, / \\, \\partial_T B_\\nu(T_{\\rm CMB})}
                       {\\nu_0^{\\beta} B_{\\nu_0}(T_d)\\, / \\, \\partial_T B_{\\nu_0}(T_{\\rm CMB})},

the modified blackbody converted to CMB temperature units (rising steeply
with frequency across 90–219 GHz).
"""

import astropy.constants as const
import numpy as np
from pixell import enmap

from skysieve.config import DustParams
from skysieve.sim._fields import field_variance, gaussian_field
from skysieve.sim._random import SeedLike, as_generator

__all__ = ["dust_frequency_scaling", "dust_map"]

_H_OVER_K = (const.h / const.k_B).value  # K s


def _planck_shape(freq_hz, temperature_k):
    """:math:`\\nu^3 / (e^{h\\nu/kT} - 1)` (the Planck law without constants)."""
    return freq_hz**3 / np.expm1(_H_OVER_K * freq_hz / temperature_k)


def _dbdt_shape(freq_hz, tcmb_k):
    """:math:`\\partial B_\\nu/\\partial T` at the CMB temperature up to constants, :math:`\\nu^4 e^x/(e^x-1)^2/T^2`."""
    x = _H_OVER_K * freq_hz / tcmb_k
    return freq_hz**4 * np.exp(x) / np.expm1(x) ** 2 / tcmb_k**2


def dust_frequency_scaling(freq_ghz, *, ref_freq_ghz: float, beta: float, temperature_k: float,
                           tcmb_k: float = 2.7255):
    """Ratio of dust ΔT_CMB in a band to that at the reference frequency (modified blackbody).

    Parameters
    ----------
    freq_ghz : float or array_like
        Band centre(s), GHz.
    ref_freq_ghz : float
        Frequency at which the template is defined, GHz.
    beta : float
        Emissivity index β.
    temperature_k : float
        Dust temperature :math:`T_d`, K.
    tcmb_k : float

    Returns
    -------
    float or ndarray
        :math:`s(\\nu)`, dimensionless, 1 at ``ref_freq_ghz``.
    """
    nu = np.asarray(freq_ghz, dtype=np.float64) * 1e9
    nu0 = ref_freq_ghz * 1e9

    def sed(f):
        return f**beta * _planck_shape(f, temperature_k) / _dbdt_shape(f, tcmb_k)

    out = sed(nu) / sed(nu0)
    return float(out) if np.ndim(out) == 0 else out


def dust_map(shape, wcs, cfg: DustParams, *, seed: SeedLike) -> enmap.ndmap:
    """The dust template at ``cfg.ref_freq_ghz``.

    Parameters
    ----------
    shape, wcs
        The patch geometry (CAR).
    cfg : DustParams
        ``amplitude_uk`` (expected pixel rms at ``ref_freq_ghz``, µK_CMB) and
        ``ell_index``.
    seed : int, SeedSequence or Generator

    Returns
    -------
    enmap.ndmap of shape (ny, nx), float64
        ΔT in µK_CMB at ``cfg.ref_freq_ghz``; multiply by
        :func:`dust_frequency_scaling` for another band.

    Notes
    -----
    :math:`C_\\ell = A\\,\\ell^{n}` for ℓ > 0 (none at ℓ = 0), with A chosen so
    that :math:`\\sum_{\\boldsymbol\\ell} C_\\ell / \\Omega_{\\rm patch}` = ``amplitude_uk``².
    The realised rms scatters around that value from map to map, since a few
    patch-scale modes carry most of the variance.
    """
    def shape_power(ell):
        safe = np.where(ell > 0, ell, 1.0)
        return np.where(ell > 0, safe**cfg.ell_index, 0.0)

    norm = cfg.amplitude_uk**2 / field_variance(shape, wcs, shape_power)

    def power(ell):
        return norm * shape_power(ell)

    return gaussian_field(shape, wcs, power, rng=as_generator(seed))
