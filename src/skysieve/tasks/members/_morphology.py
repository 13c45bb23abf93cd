"""Galaxy morphology that follows the galaxy's type and luminosity: bulge fraction, bulge Sérsic index, size.

The simulation's galaxies have an SED type ``t`` on the CWW axis (0 = E,
1 = Sbc, 2 = Scd, 3 = Im). Morphology follows the type, as in real galaxies,
so the morphology–density relation of clusters (Dressler 1980: cores are
dominated by early types, the field by spirals) comes out of the class
mix — members mostly on the red sequence, interlopers the field's mix —
and morphology tells the *intrinsic* type, which the observed colours
confuse with redshift.

* **Hubble type** from the SED type, linear between the CWW anchors
  E (t = 0) → T = −5, Sbc (1) → 4, Scd (2) → 6, Im (3) → 10.
* **Bulge-to-total ratio of disk galaxies** (Simien & de Vaucouleurs 1986,
  ApJ 302, 564, their fit of the bulge − total magnitude against T):

  .. math::

      Δm = 0.324\\,x − 0.054\\,x^2 + 0.0047\\,x^3, \\quad x = T + 5, \\qquad B/T = 10^{−0.4 Δm},

  B/T ≈ 0.16 for Sbc, 0.05 for Scd, → 0 for Im; with a log-normal scatter.
  Red-sequence (passive) galaxies are E/S0 with B/T drawn from a range
  (``bulge_fraction_red``): their colours do not tell E from S0.
* **Bulge Sérsic index**: ellipticals and classical bulges are close to de
  Vaucouleurs, ``n ≈ 4`` (log-normal, 0.1 dex; Caon, Capaccioli & D'Onofrio
  1993); the bulges of disk galaxies are near-exponential, ``⟨n⟩ = 1.7 ± 0.7``
  for S0–Sbc bulges (Balcells et al. 2003, ApJ 582, L79), ``n → 1`` for late
  types (de Jong 1996; Graham & Prieto 1999).
* **Size–luminosity relations per type** (Shen et al. 2003, MNRAS 343, 978,
  eqs. 14–16; SDSS r band, h = 0.7, parameters as in SkyPy), half-light radius
  in kpc against the rest-frame r absolute magnitude ``M``:

  .. math::

      \\log_{10} \\bar R_{early} = −0.4\\,a\\,M + b, \\qquad
      \\log_{10} \\bar R_{late} = −0.4\\,α\\,M + (β − α) \\log_{10}\\big[1 + 10^{−0.4 (M − M_0)}\\big] + γ,

      σ_{\\ln R} = σ_2 + \\frac{σ_1 − σ_2}{1 + 10^{−0.8 (M − M_0)}},

  ``a = 0.60, b = −4.63, α = 0.21, β = 0.53, γ = −1.31, M_0 = −20.52, σ_1 = 0.48,
  σ_2 = 0.25``. Faint red galaxies have sizes nearly independent of luminosity
  (Shen et al. 2003, §4.1): the early-type relation is held constant fainter
  than ``M = −20`` (1.5 kpc). Size evolution at fixed mass (van der Wel et al.
  2014, smaller at higher z) and luminosity evolution (brighter at higher z,
  so larger at fixed mass through these relations) partly cancel at fixed
  luminosity; neither is modelled.
"""

import numpy as np

__all__ = ["SERSIC_GRID", "bulge_sersic_index", "bulge_to_total", "hubble_type", "size_kpc"]

#: Bulge Sérsic indices are snapped to this grid (galsim caches one profile table per index).
SERSIC_GRID = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)

_T_ANCHORS = (np.array([0.0, 1.0, 2.0, 3.0]), np.array([-5.0, 4.0, 6.0, 10.0]))
# Shen et al. (2003) eqs. 14-16
_A, _B = 0.60, -4.63
_ALPHA, _BETA, _GAMMA, _M0 = 0.21, 0.53, -1.31, -20.52
_SIGMA1, _SIGMA2 = 0.48, 0.25
_M_FLAT_EARLY = -20.0


def hubble_type(t: np.ndarray) -> np.ndarray:
    """Hubble stage ``T`` of the CWW type ``t`` (E −5, Sbc 4, Scd 6, Im 10, linear between)."""
    return np.interp(t, *_T_ANCHORS)


def bulge_to_total(hubble_t: np.ndarray) -> np.ndarray:
    """Mean B/T at Hubble stage ``T`` (Simien & de Vaucouleurs 1986): ``10^{−0.4 Δm(T + 5)}``."""
    x = np.clip(np.asarray(hubble_t, float), -5.0, 10.0) + 5.0
    dm = 0.324 * x - 0.054 * x**2 + 0.0047 * x**3
    return 10 ** (-0.4 * dm)


def bulge_sersic_index(early: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Bulge Sérsic index: ``4 · 10^{N(0, 0.1)}`` for early types, ``N(1.7, 0.7)`` for disk galaxies; on the grid."""
    early = np.asarray(early, bool)
    n = np.where(early, 4.0 * 10 ** (0.1 * rng.standard_normal(early.size)),
                 1.7 + 0.7 * rng.standard_normal(early.size))
    grid = np.asarray(SERSIC_GRID)
    return grid[np.abs(np.clip(n, grid[0], grid[-1])[:, None] - grid[None, :]).argmin(axis=1)]


def size_kpc(abs_mag_r: np.ndarray, early: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Half-light radii (kpc) from Shen et al. (2003): log-normal about the early- or late-type relation.

    Parameters
    ----------
    abs_mag_r : ndarray of shape (n,), rest-frame r-band absolute magnitude
    early : ndarray of shape (n,), bool, early type (E/S0) or not
    """
    m = np.asarray(abs_mag_r, float)
    log_early = -0.4 * _A * np.minimum(m, _M_FLAT_EARLY) + _B
    log_late = -0.4 * _ALPHA * m + (_BETA - _ALPHA) * np.log10(1 + 10 ** (-0.4 * (m - _M0))) + _GAMMA
    sigma_ln = _SIGMA2 + (_SIGMA1 - _SIGMA2) / (1 + 10 ** (-0.8 * (m - _M0)))
    log_r = np.where(early, log_early, log_late)
    return 10**log_r * np.exp(sigma_ln * rng.standard_normal(m.size))
