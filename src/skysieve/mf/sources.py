"""Point sources before cluster filtering: read, detect, subtract or mask-and-inpaint.

Bright point sources are the main non-Gaussian noise of the matched filter:
left in, a radio source leaves a ring of false cluster candidates around it.
DeepSZ (§2.1) subtracts every source brighter than 2 mJy before filtering.

* A source catalog is a FITS table with ``ra``, ``dec`` (deg) and one
  ``flux_<band>_mjy`` column per band (e.g. ``flux_90GHz_mjy``, mJy).
* :func:`detect_sources` makes such a catalog from the maps themselves, for
  real maps that arrive without one: each band is filtered with its beam (a
  point-source matched filter weighted by that band's noise power) and
  positive peaks above an SNR threshold are kept, with the filtered flux of
  every band at the peak pixel; a second pass on the residual refines the
  fluxes and finds the fainter sources.
* :func:`clean_sources` subtracts the beam-convolved sources brighter than a
  flux cut in any band, or masks discs around them and fills the holes by
  harmonic (Laplace) inpainting from their edges; no detection is then made
  inside the holes.

Sources are placed on their nearest pixel centre (the simulated sources sit
on pixel centres).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.fft
import scipy.sparse
import scipy.sparse.linalg
from astropy.table import Table
from scipy import ndimage

from skysieve._columns import column_values
from skysieve.data.maps import SkyMaps
from skysieve.errors import ConfigError, DataError
from skysieve.mf._fourier import FourierGrid, fourier_grid
from skysieve.mf.noise import NoiseEstimator
from skysieve.mf.peaks import find_peaks

__all__ = [
    "CleanedMaps",
    "check_source_catalog",
    "clean_sources",
    "detect_sources",
    "inpaint_harmonic",
    "read_source_catalog",
]


def check_source_catalog(table: Table, *, freqs_ghz: Sequence[float], name: str = "source catalog") -> Table:
    """Check that ``table`` has ``ra``, ``dec`` and a flux column for every band.

    Parameters
    ----------
    table : Table
    freqs_ghz : sequence of float
        Band centres, GHz; band ``ν`` needs ``flux_<ν>GHz_mjy`` (mJy).
    name : str
        What to call the table in messages (its file).

    Raises
    ------
    DataError
        Naming ``name``, the missing columns and the expected names.
    """
    from skysieve.sim.sources import flux_column

    missing = [c for c in ("ra", "dec") if c not in table.colnames]
    missing += [flux_column(f) for f in freqs_ghz if flux_column(f) not in table.colnames]
    if missing:
        raise DataError(f"{name}: missing columns {missing}; a source catalog needs ra, dec (deg) and one "
                        f"flux_<band>_mjy column per band in mJy (have {table.colnames})")
    return table


def read_source_catalog(path: str | Path, *, freqs_ghz: Sequence[float]) -> Table:
    """Read and check a point-source catalog (see :func:`check_source_catalog`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: source catalog not found; rerun the sky simulation that wrote the maps, or set "
                        "sources: find in the matched-filter section to find sources in the maps")
    try:
        table = Table.read(path)
    except Exception as exc:
        raise DataError(f"{path}: unreadable source catalog ({exc})") from exc
    return check_source_catalog(table, freqs_ghz=freqs_ghz, name=str(path))


@dataclass(frozen=True)
class CleanedMaps:
    """Maps after point-source treatment.

    Attributes
    ----------
    maps : SkyMaps
        The cleaned copy.
    n_treated : int
        Number of sources subtracted or masked.
    mask : ndarray of shape (ny, nx), bool, or None
        The inpainted pixels (``mask`` treatment).  The filter's output there
        is an interpolation, not data: detections should not be made there
        (:func:`skysieve.mf.run_mf_sz` sets the SNR maps to 0 in the mask).
    """

    maps: SkyMaps
    n_treated: int
    mask: np.ndarray | None = None


def _bright_sources(maps: SkyMaps, sources: Table, flux_cut_mjy: float) -> tuple[Table, np.ndarray, np.ndarray]:
    """The sources brighter than the cut in any band that fall on the map, and their pixels (iy, ix)."""
    from skysieve.sim.sources import flux_column

    freqs = maps.freqs_ghz or ()
    flux = (np.stack([column_values(sources[flux_column(f)], "mJy", table="source catalog") for f in freqs])
            if len(sources)
            else np.zeros((len(freqs), 0)))
    bright = sources[np.any(flux > flux_cut_mjy, axis=0)] if len(sources) else sources
    x, y = maps.wcs.celestial.world_to_pixel_values(column_values(bright["ra"], "deg", table="source catalog"),
                                                    column_values(bright["dec"], "deg", table="source catalog"))
    ix, iy = np.rint(np.asarray(x)).astype(np.int64), np.rint(np.asarray(y)).astype(np.int64)
    ny, nx = maps.data.shape[-2:]
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    return bright[inside], iy[inside], ix[inside]


def clean_sources(maps: SkyMaps, sources: Table, *, treatment: str = "subtract", flux_cut_mjy: float = 2.0,
                  beam_fwhm_arcmin: Mapping[str, float] | None = None, mask_radius_arcmin: float = 3.0,
                  max_mask_fraction: float = 0.2) -> CleanedMaps:
    """Subtract, or mask and inpaint, the sources brighter than ``flux_cut_mjy`` in any band.

    Parameters
    ----------
    maps : SkyMaps
        Band maps, µK_CMB, with frequencies.
    sources : Table
        ``ra``, ``dec`` (deg) and ``flux_<band>_mjy`` per band (checked with
        :func:`check_source_catalog`).
    treatment : {"subtract", "mask"}
        ``subtract``: remove from band ``b`` the sources painted as in the
        simulation (:func:`skysieve.sim.sources.source_map`: flux ``S_b`` in
        one pixel, ``ΔT = S_b / Ω_pix / (∂B_ν/∂T)``) and convolved with the
        band's beam (:func:`skysieve.sim.instrument.apply_beam`).  ``mask``: replace discs of ``mask_radius_arcmin`` by a
        harmonic inpainting (:func:`inpaint_harmonic`).
    flux_cut_mjy : float
    beam_fwhm_arcmin : mapping of str to float
        Beam FWHM per band name, arcmin (needed to subtract).
    mask_radius_arcmin : float
    max_mask_fraction : float
        ``mask`` refuses to mask more of the map than this: at the depth of
        the default survey thousands of sources pass 2 mJy, and masking them
        all would blank the map (why DeepSZ subtracts instead).

    Returns
    -------
    CleanedMaps
        The cleaned copy, the number of sources treated and, for ``mask``,
        the masked pixels.
    """
    from skysieve.sim.instrument import apply_beam
    from skysieve.sim.sources import source_map

    if maps.freqs_ghz is None:
        raise DataError(f"{', '.join(str(p) for p in maps.paths) or 'maps'}: bands without FREQ; "
                        "point sources need each band's frequency")
    check_source_catalog(sources, freqs_ghz=maps.freqs_ghz)
    bright, iy, ix = _bright_sources(maps, sources, flux_cut_mjy)
    data = np.array(maps.data, dtype=np.float32, copy=True)
    mask = None
    if len(bright):
        grid = fourier_grid(maps.data.shape[-2:], maps.wcs)
        if treatment == "subtract":
            if beam_fwhm_arcmin is None:
                raise DataError("clean_sources(treatment='subtract') needs the beam of every band")
            shape = maps.data.shape[-2:]
            for b, (band, freq) in enumerate(zip(maps.bands, maps.freqs_ghz)):
                painted = apply_beam(source_map(shape, maps.wcs, bright, freq_ghz=freq), beam_fwhm_arcmin[band])
                data[b] -= np.asarray(painted, dtype=np.float32)
        elif treatment == "mask":
            mask = _disc_mask(grid, iy, ix, mask_radius_arcmin)
            if mask.mean() > max_mask_fraction:
                raise ConfigError(
                    f"mf_sz.source_treatment = 'mask' would mask {mask.mean():.0%} of the map ({len(bright)} sources "
                    f"above mf_sz.flux_cut_mjy = {flux_cut_mjy} mJy, radius mf_sz.mask_radius_arcmin = "
                    f"{mask_radius_arcmin}′; at most {max_mask_fraction:.0%}); raise the flux cut, shrink the "
                    "radius, or use source_treatment: subtract")
            data = inpaint_harmonic(data, mask)
        else:
            raise DataError(f"unknown point-source treatment {treatment!r}; use 'subtract' or 'mask'")
    cleaned = SkyMaps(data=data, wcs=maps.wcs, bands=maps.bands, freqs_ghz=maps.freqs_ghz, unit=maps.unit,
                      paths=maps.paths)
    return CleanedMaps(maps=cleaned, n_treated=len(bright), mask=mask)


def _disc_mask(grid: FourierGrid, iy: np.ndarray, ix: np.ndarray, radius_arcmin: float) -> np.ndarray:
    """Boolean mask of discs of ``radius_arcmin`` around pixels (iy, ix), shape (ny, nx)."""
    ny, nx = grid.shape
    ry, rx = int(np.ceil(radius_arcmin / grid.dy_arcmin)), int(np.ceil(radius_arcmin / grid.dx_arcmin))
    dy, dx = np.mgrid[-ry: ry + 1, -rx: rx + 1]
    disc = np.hypot(dy * grid.dy_arcmin, dx * grid.dx_arcmin) <= radius_arcmin
    oy, ox = dy[disc], dx[disc]
    yy, xx = (iy[:, None] + oy[None]).ravel(), (ix[:, None] + ox[None]).ravel()
    ok = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
    mask = np.zeros((ny, nx), dtype=bool)
    mask[yy[ok], xx[ok]] = True
    return mask


def inpaint_harmonic(data: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill masked pixels with the harmonic function that matches the unmasked pixels around them.

    Each 4-connected hole is solved on its own: the discrete Laplace equation
    ``Σ_{q ∈ N(p)} (u_p − u_q) = 0`` for every masked pixel ``p`` (neighbours
    inside the map), with the unmasked neighbours as boundary values.

    Parameters
    ----------
    data : ndarray of shape (nband, ny, nx) or (ny, nx)
    mask : ndarray of shape (ny, nx), bool
        True where a pixel is to be replaced.

    Returns
    -------
    ndarray
        A copy of ``data`` with the holes filled.
    """
    out = np.array(data, copy=True)
    stack = out[None] if out.ndim == 2 else out
    ny, nx = mask.shape
    labels, _ = ndimage.label(mask)
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        y0, y1 = max(sl[0].start - 1, 0), min(sl[0].stop + 1, ny)
        x0, x1 = max(sl[1].start - 1, 0), min(sl[1].stop + 1, nx)
        hole = labels[y0:y1, x0:x1] == k
        number = np.full(hole.shape, -1, dtype=np.int64)
        number[hole] = np.arange(int(hole.sum()))
        py, px = np.nonzero(hole)
        n = py.size
        rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.zeros(n)]
        rhs = np.zeros((n, stack.shape[0]))
        for oy, ox in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            qy, qx = py + oy, px + ox
            valid = (qy + y0 >= 0) & (qy + y0 < ny) & (qx + x0 >= 0) & (qx + x0 < nx)
            vals[0] = vals[0] + valid
            qy_c, qx_c = np.clip(qy, 0, hole.shape[0] - 1), np.clip(qx, 0, hole.shape[1] - 1)
            inner = valid & hole[qy_c, qx_c]
            rows.append(np.flatnonzero(inner))
            cols.append(number[qy_c[inner], qx_c[inner]])
            vals.append(-np.ones(int(inner.sum())))
            edge = valid & ~hole[qy_c, qx_c]
            rhs[edge] += stack[:, qy[edge] + y0, qx[edge] + x0].T
        matrix = scipy.sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                         shape=(n, n))
        solution = scipy.sparse.linalg.splu(matrix).solve(rhs)
        stack[:, py + y0, px + x0] = solution.T
    return out


def _beam_filter(maps: SkyMaps, *, beams: list[float], noise: NoiseEstimator,
                 grid: FourierGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per-band point-source flux maps (mJy) and their SNR maps, shapes (nband, ny, nx)."""
    from skysieve.sim.instrument import beam_transfer
    from skysieve.sim.sources import mjy_to_uk

    dft = scipy.fft.rfft2(np.asarray(maps.data, dtype=np.float64), axes=(-2, -1))
    kw = {"grid": grid, "bands": maps.bands, "freqs_ghz": maps.freqs_ghz, "beam_fwhm_arcmin": beams, "dft": dft}
    mode_power = getattr(noise, "mode_power", None)
    modes = None if mode_power is None else mode_power(**kw)  # anisotropic noise: per Fourier mode
    if modes is None:
        power = np.einsum("iil->il", noise.spectra(**kw).tabulate(grid.lmax)) / grid.pixel_area_sr
    else:
        power = np.einsum("iiyx->iyx", modes)
        del modes
    ell = np.arange(grid.lmax + 1, dtype=float)
    flux = np.empty(maps.data.shape, dtype=np.float32)
    snr = np.empty(maps.data.shape, dtype=np.float32)
    for b, freq in enumerate(maps.freqs_ghz):
        resp = float(mjy_to_uk(1.0, freq, pixel_area_sr=grid.pixel_area_sr)) * beam_transfer(ell, beams[b])
        if power.ndim == 3:  # one weight per mode
            resp = resp[grid.ell_index]
        weight = np.where(power[b] > 0, resp / np.where(power[b] > 0, power[b], 1.0), 0.0)
        weight.flat[0] = 0.0
        w_modes = weight if power.ndim == 3 else weight[grid.ell_index]
        r_modes = resp if power.ndim == 3 else resp[grid.ell_index]
        sigma = (float(grid.full_plane_sum(r_modes * w_modes)) / grid.n_pix) ** -0.5
        flux[b] = scipy.fft.irfft2(w_modes * dft[b], s=grid.shape) * sigma**2
        snr[b] = flux[b] / np.float32(sigma)
    return flux, snr


def detect_sources(maps: SkyMaps, *, beam_fwhm_arcmin: Mapping[str, float], noise: NoiseEstimator,
                   snr_threshold: float = 5.0, n_passes: int = 2) -> Table:
    """Find point sources in the maps with a beam-matched filter per band.

    For band ``b`` with beam ``B_b``, noise pixel power ``P_bb`` and ``u_b``
    the µK of 1 mJy in one pixel, the flux estimate at every pixel and its
    rms are::

        Ŝ_b(x) = σ_b² · IDFT[u_b B_b d̃_b / P_bb](x),   σ_b⁻² = (1/n_pix) Σ_k u_b² B_b² / P_bb

    Pixels with ``Ŝ_b / σ_b > snr_threshold`` in any band form groups
    (:func:`~skysieve.mf.peaks.find_peaks`); each group's brightest pixel is a
    source, with the filtered flux of every band there.  Only positive peaks
    count, so tSZ decrements are not taken for sources.

    The search runs in ``n_passes``: after each, the sources found so far are
    subtracted from the input maps and the filter (and, for
    :class:`~skysieve.mf.noise.MapNoise`, its noise) is redone on the
    residual.  Each later pass corrects the fluxes of the known sources by
    the residual at their pixels, whatever its sign — an over-subtracted
    source at 90 GHz would look like a tSZ decrement — and adds the fainter
    sources that the bright ones hid (their power inflates a noise spectrum
    estimated from the maps, and their filter sidelobes cover their
    neighbours).

    Parameters
    ----------
    maps : SkyMaps
        Band maps, µK_CMB, with frequencies.
    beam_fwhm_arcmin : mapping of str to float
    noise : NoiseEstimator
        Gives each band's noise auto-spectrum.
    snr_threshold : float
    n_passes : int

    Returns
    -------
    Table
        ``source_id``, ``ra``, ``dec`` (deg), ``x``, ``y`` (pixel), ``snr``
        (highest band SNR when found), ``band`` (where it was highest) and
        ``flux_<band>_mjy`` for every band.
    """
    from skysieve.sim.sources import flux_column

    if maps.freqs_ghz is None:
        raise DataError(f"{', '.join(str(p) for p in maps.paths) or 'maps'}: bands without FREQ; "
                        "source detection needs each band's frequency")
    grid = fourier_grid(maps.data.shape[-2:], maps.wcs)
    beams = [beam_fwhm_arcmin[b] for b in maps.bands]
    nb = len(maps.bands)
    ys = np.zeros(0, np.int64)
    xs = np.zeros(0, np.int64)
    snrs, band_idx = np.zeros(0), np.zeros(0, np.int64)
    fluxes = np.zeros((nb, 0))
    current = maps
    for _ in range(max(int(n_passes), 1)):
        flux, snr = _beam_filter(current, beams=beams, noise=noise, grid=grid)
        fluxes = fluxes + flux[:, ys, xs]  # residual corrections at the known sources
        peaks = find_peaks(snr, threshold=snr_threshold)
        yp, xp = np.asarray(peaks["y_peak"], np.int64), np.asarray(peaks["x_peak"], np.int64)
        new = ~np.isin(yp * grid.shape[1] + xp, ys * grid.shape[1] + xs)
        if not new.any() and ys.size:
            break
        ys, xs = np.concatenate([ys, yp[new]]), np.concatenate([xs, xp[new]])
        snrs = np.concatenate([snrs, np.asarray(peaks["snr"], float)[new]])
        band_idx = np.concatenate([band_idx, np.asarray(peaks["scale"], np.int64)[new]])
        fluxes = np.concatenate([fluxes, flux[:, yp[new], xp[new]]], axis=1)
        if ys.size == 0:
            break
        current = clean_sources(maps, _catalog(maps, ys, xs, snrs, band_idx, fluxes, flux_column),
                                flux_cut_mjy=-np.inf, beam_fwhm_arcmin=beam_fwhm_arcmin).maps
    return _catalog(maps, ys, xs, snrs, band_idx, fluxes, flux_column)


def _catalog(maps: SkyMaps, ys, xs, snrs, band_idx, fluxes, flux_column) -> Table:
    ra, dec = maps.wcs.celestial.pixel_to_world_values(xs.astype(float), ys.astype(float))
    out = Table()
    out["source_id"] = np.arange(ys.size, dtype=np.int64)
    out["ra"] = np.asarray(ra, float) % 360.0
    out["dec"] = np.asarray(dec, float)
    out["x"], out["y"] = xs, ys
    out["snr"] = snrs
    out["band"] = np.array([maps.bands[s] for s in band_idx], dtype="U16")
    for b, freq in enumerate(maps.freqs_ghz):
        out[flux_column(freq)] = np.asarray(fluxes[b], float)
        out[flux_column(freq)].unit = "mJy"
    out["ra"].unit = out["dec"].unit = "deg"
    return out
