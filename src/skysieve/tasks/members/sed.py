"""Galaxy colours through the real HST filter curves: CWW templates (galsim) × astro-sedpy filters.

A galaxy's SED is a mix of the four Coleman, Wu & Weedman (1980) templates
shipped with galsim (extended by Bolzonella et al. 2000) along a type axis
``t`` ∈ [0, 3] (E, Sbc, Scd, Im), each normalised at 5500 Å rest frame:

.. math::

    f_λ(λ; t) = (1 − w) f_λ^{(⌊t⌋)}(λ) + w f_λ^{(⌊t⌋+1)}(λ), \\quad w = t − ⌊t⌋.

Redshifted to ``z``, ``f_λ^{obs}(λ) ∝ f_λ(λ / (1 + z))``, and the AB
magnitude through filter ``b`` with transmission ``T_b(λ)`` is (sedpy)

.. math::

    m_b = −2.5 \\log_{10} \\frac{∫ f_λ T_b λ dλ}{∫ f_ν^{AB} (c/λ²) T_b λ dλ}.

:class:`ColourGrid` tabulates ``m_b − m_ref`` on a (t, z) grid once and
interpolates bilinearly, so a simulation of thousands of galaxies costs a
few thousand template integrations, not millions.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TEMPLATES", "ColourGrid", "KCorrectionGrid", "band_magnitudes", "k_correction", "template_sed"]

#: The CWW templates along the type axis t = 0, 1, 2, 3 (galsim share/SEDs).
TEMPLATES = ("CWW_E_ext", "CWW_Sbc_ext", "CWW_Scd_ext", "CWW_Im_ext")

_NORM_WAVE_A = 5500.0


def _template_table() -> tuple[np.ndarray, np.ndarray]:
    """(wavelength [Å], f_λ of shape (4, n) normalised at 5500 Å) on the E template's grid, via galsim.SED."""
    import galsim

    share = Path(galsim.meta_data.share_dir) / "SEDs"
    wave = np.loadtxt(share / f"{TEMPLATES[0]}.sed")[:, 0]
    wave_nm = wave / 10.0
    flux = []
    for name in TEMPLATES:
        sed = galsim.SED(str(share / f"{name}.sed"), wave_type="Angstrom", flux_type="flambda")
        # galsim returns photons / nm / cm² / s; f_λ ∝ N_λ / λ.
        f = np.asarray(sed(wave_nm), dtype=np.float64) / wave_nm
        flux.append(f / np.interp(_NORM_WAVE_A / 10.0, wave_nm, f))
    return wave, np.stack(flux)


def template_sed(t: float | np.ndarray, *, table: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Rest-frame SED(s) at type ``t`` (0 = E … 3 = Im), linear between adjacent CWW templates.

    Parameters
    ----------
    t : float or ndarray of shape (n,)
        Clipped to [0, 3].
    table : optional
        The output of ``_template_table()`` (reused across calls).

    Returns
    -------
    wave : ndarray of shape (nw,), Å
    flam : ndarray of shape (nw,) or (n, nw), f_λ normalised to 1 at 5500 Å
    """
    wave, flux = table if table is not None else _template_table()
    t_arr = np.clip(np.atleast_1d(np.asarray(t, dtype=np.float64)), 0.0, 3.0)
    lo = np.minimum(np.floor(t_arr).astype(int), 2)
    w = (t_arr - lo)[:, None]
    flam = (1 - w) * flux[lo] + w * flux[lo + 1]
    return wave, (flam[0] if np.ndim(t) == 0 else flam)


def band_magnitudes(t: np.ndarray, z: float, filters: tuple[str, ...] | list, *,
                    table: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """AB magnitudes (arbitrary common offset) of SEDs of types ``t`` at redshift ``z`` through sedpy ``filters``.

    Parameters
    ----------
    t : ndarray of shape (n,)
    z : float
    filters : tuple of str (sedpy names) or list of ``sedpy.observate.Filter``

    Returns
    -------
    ndarray of shape (n, len(filters))
    """
    from sedpy import observate

    if filters and isinstance(filters[0], str):
        filters = observate.load_filters(list(filters))
    wave, flam = template_sed(np.atleast_1d(t), table=table)
    obs_wave = np.geomspace(3000.0, 20000.0, 1500)
    f_obs = np.stack([np.interp(obs_wave / (1.0 + z), wave, f) for f in flam]) / (1.0 + z)
    return np.atleast_2d(observate.getSED(obs_wave, f_obs * 1e-17, filters))


@dataclass(frozen=True)
class ColourGrid:
    """Colours ``m_b − m_ref`` tabulated on a (t, z) grid; :meth:`colours` interpolates bilinearly.

    Attributes
    ----------
    bands : tuple of str
        Band names in column order.
    t_grid, z_grid : ndarray
    colour : ndarray of shape (nt, nz, nbands)
        ``m_b − m_ref`` in mag (0 in the reference column).
    """

    bands: tuple[str, ...]
    t_grid: np.ndarray
    z_grid: np.ndarray
    colour: np.ndarray

    @classmethod
    def build(cls, bands: tuple[str, ...], filters: tuple[str, ...], *, reference: str,
              z_range: tuple[float, float] = (0.02, 1.7), dz: float = 0.02, dt: float = 0.1) -> "ColourGrid":
        """Tabulate the colours of ``bands`` (sedpy ``filters``) relative to ``reference``."""
        from sedpy import observate

        table = _template_table()
        curves = observate.load_filters(list(filters))
        t_grid = np.arange(0.0, 3.0 + dt / 2, dt)
        z_grid = np.arange(z_range[0], z_range[1] + dz / 2, dz)
        ref = bands.index(reference)
        colour = np.empty((t_grid.size, z_grid.size, len(bands)))
        for j, z in enumerate(z_grid):
            mags = band_magnitudes(t_grid, float(z), curves, table=table)
            colour[:, j, :] = mags - mags[:, [ref]]
        return cls(bands=tuple(bands), t_grid=t_grid, z_grid=z_grid, colour=colour)

    def colours(self, t: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``m_b − m_ref`` of shape (n, nbands) at types ``t`` and redshifts ``z`` (each shape (n,))."""
        from scipy.interpolate import RegularGridInterpolator

        interp = RegularGridInterpolator((self.t_grid, self.z_grid), self.colour, bounds_error=False, fill_value=None)
        pts = np.column_stack([np.clip(t, self.t_grid[0], self.t_grid[-1]),
                               np.clip(z, self.z_grid[0], self.z_grid[-1])])
        return interp(pts)


def k_correction(wave: np.ndarray, flam: np.ndarray, z: float, *, observed, rest) -> np.ndarray:
    """K-correction from the rest-frame band ``rest`` to the observed band ``observed`` at redshift ``z``, mag.

    ``m_observed = M_rest + DM(z) + K`` (Hogg et al. 2002, eq. 13): with the
    observed spectrum ``f_λ^{obs}(λ) = L_λ(λ / (1 + z)) / [(1 + z) 4π D_L²]``,

    .. math::

        K = m_{obs}\big[f_λ(λ/(1+z)) / (1+z)\big] − m_{rest}\big[f_λ(λ)\big],

    both AB magnitudes of the same rest-frame SED through sedpy filters. A
    flat ``f_ν`` gives ``K = −2.5 log10(1 + z)`` in any pair of bands.

    Parameters
    ----------
    wave : ndarray of shape (nw,), Å, rest frame
    flam : ndarray of shape (n, nw) or (nw,), f_λ (any common unit)
    z : float
    observed, rest : sedpy filter names or ``sedpy.observate.Filter``

    Returns
    -------
    ndarray of shape (n,)
    """
    from sedpy import observate

    obs_f, rest_f = (observate.load_filters([f])[0] if isinstance(f, str) else f for f in (observed, rest))
    flam = np.atleast_2d(flam)
    grid = np.geomspace(1000.0, 30000.0, 3000)
    f_rest = np.stack([np.interp(grid, wave, f, left=0.0, right=0.0) for f in flam])
    f_obs = np.stack([np.interp(grid / (1.0 + z), wave, f, left=0.0, right=0.0) for f in flam]) / (1.0 + z)
    m_obs = observate.getSED(grid, f_obs * 1e-17, [obs_f])
    m_rest = observate.getSED(grid, f_rest * 1e-17, [rest_f])
    return np.ravel(np.asarray(m_obs) - np.asarray(m_rest))


@dataclass(frozen=True)
class KCorrectionGrid:
    """K-corrections ``K(t, z)`` of the CWW type mix from a rest-frame band to an observed one, on a grid.

    ``M_rest = m_observed − DM(z) − K(t, z)`` (:func:`k_correction`); bilinear in (t, z).
    """

    t_grid: np.ndarray
    z_grid: np.ndarray
    k: np.ndarray  # (nt, nz), mag

    @classmethod
    def build(cls, observed: str, rest: str, *, z_range: tuple[float, float] = (0.0, 1.7), dz: float = 0.02,
              dt: float = 0.1) -> "KCorrectionGrid":
        """Tabulate K for sedpy filters ``observed`` (e.g. ``acs_wfc_f814w``) and ``rest`` (e.g. ``sdss_r0``)."""
        from sedpy import observate

        obs_f, rest_f = observate.load_filters([observed, rest])
        table = _template_table()
        t_grid = np.arange(0.0, 3.0 + dt / 2, dt)
        z_grid = np.arange(z_range[0], z_range[1] + dz / 2, dz)
        wave, flam = template_sed(t_grid, table=table)
        k = np.column_stack([k_correction(wave, flam, float(z), observed=obs_f, rest=rest_f) for z in z_grid])
        return cls(t_grid=t_grid, z_grid=z_grid, k=k)

    def __call__(self, t: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``K`` at types ``t`` and redshifts ``z`` (each shape (n,)), mag."""
        from scipy.interpolate import RegularGridInterpolator

        interp = RegularGridInterpolator((self.t_grid, self.z_grid), self.k, bounds_error=False, fill_value=None)
        return interp(np.column_stack([np.clip(t, self.t_grid[0], self.t_grid[-1]),
                                       np.clip(z, self.z_grid[0], self.z_grid[-1])]))
