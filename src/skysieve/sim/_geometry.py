"""Sky geometry of a CAR patch: bounds, solid angle, uniform positions (internal)."""

import numpy as np
from pixell import enmap

from skysieve.errors import DataError

__all__ = ["car_bounds", "car_pixel_scales_arcmin", "deposit_points", "patch_solid_angle_sr", "per_profile",
           "pixel_centres", "uniform_positions"]


def car_bounds(shape, wcs) -> tuple[float, float, float, float]:
    """Outer pixel edges ``(ra_lo, ra_hi, dec_lo, dec_hi)`` in radians (RA unwrapped, ra_lo < ra_hi)."""
    ctype = str(wcs.celestial.wcs.ctype[0])
    if not ctype.endswith("CAR"):
        raise DataError(f"the simulation needs a CAR (plate carrée) geometry, got CTYPE1={ctype!r}")
    ny, nx = int(shape[-2]), int(shape[-1])
    edges = enmap.pix2sky((ny, nx), wcs, [[-0.5, ny - 0.5], [-0.5, nx - 0.5]], safe=False)
    dec_lo, dec_hi = sorted(float(v) for v in edges[0])
    ra_lo, ra_hi = sorted(float(v) for v in edges[1])
    return ra_lo, ra_hi, dec_lo, dec_hi


def patch_solid_angle_sr(shape, wcs) -> float:
    """Solid angle of the patch: :math:`\\Delta\\alpha\\,(\\sin\\delta_{hi} - \\sin\\delta_{lo})`, sr."""
    ra_lo, ra_hi, dec_lo, dec_hi = car_bounds(shape, wcs)
    return (ra_hi - ra_lo) * (np.sin(dec_hi) - np.sin(dec_lo))


def uniform_positions(shape, wcs, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform in solid angle over the patch: (ra in [0, 360), dec), degrees.

    RA is uniform between the patch edges and sin(dec) uniform between theirs.
    """
    ra_lo, ra_hi, dec_lo, dec_hi = car_bounds(shape, wcs)
    ra = rng.uniform(ra_lo, ra_hi, size=n)
    dec = np.arcsin(rng.uniform(np.sin(dec_lo), np.sin(dec_hi), size=n))
    return np.mod(np.degrees(ra), 360.0), np.degrees(dec)


def per_profile(ra_deg, dec_deg, *values) -> tuple[np.ndarray, ...]:
    """Profile centres and per-profile values as float64 arrays of one length ``n`` (scalars broadcast).

    Returns ``(ra, dec, *values)``, each of shape ``(n,)`` with ``n`` the number of centres.
    """
    ra = np.atleast_1d(np.asarray(ra_deg, dtype=np.float64))
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=np.float64))
    n = ra.size
    return (ra, dec, *(np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for v in values))


def pixel_centres(shape, wcs, ra_deg, dec_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest pixel of each position: ``(iy, ix, ra_centre_deg, dec_centre_deg)`` (RA in [0, 360))."""
    ny, nx = int(shape[-2]), int(shape[-1])
    if np.size(ra_deg) == 0:  # pixell's unwinding refuses empty arrays
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty, empty
    pix = enmap.sky2pix((ny, nx), wcs, np.deg2rad(np.vstack([dec_deg, ra_deg])))
    iy = np.clip(np.rint(pix[0]).astype(np.int64), 0, ny - 1)
    ix = np.clip(np.rint(pix[1]).astype(np.int64), 0, nx - 1)
    centre = np.degrees(enmap.pix2sky((ny, nx), wcs, np.vstack([iy, ix]).astype(np.float64)))
    return iy, ix, np.mod(centre[1], 360.0), centre[0]


def car_pixel_scales_arcmin(wcs) -> tuple[float, float]:
    """``(dy, dx)`` pixel sizes of a CAR geometry along Dec and RA (at the equator), arcmin."""
    cel = wcs.celestial.wcs
    if not str(cel.ctype[0]).endswith("CAR"):
        raise DataError(f"painting needs a CAR (plate carrée) geometry, got CTYPE1={cel.ctype[0]!r}")
    return abs(float(cel.cdelt[1])) * 60.0, abs(float(cel.cdelt[0])) * 60.0


def deposit_points(shape, wcs, ra_deg, dec_deg, amplitude) -> enmap.ndmap:
    """Each amplitude spread over the one pixel its position falls in: a map of amplitude per arcmin².

    Positions beyond the map are dropped (not clipped onto the border), so the
    map's integral (sum × pixel area) is the sum of the amplitudes inside it.

    Parameters
    ----------
    shape, wcs
        The geometry (CAR).
    ra_deg, dec_deg, amplitude : array_like of shape (n,)
        Positions (degrees) and integrals (e.g. Y in arcmin²).

    Returns
    -------
    enmap.ndmap of shape (ny, nx), float64
    """
    ny, nx = int(shape[-2]), int(shape[-1])
    out = enmap.zeros((ny, nx), wcs, dtype=np.float64)
    ra, dec = np.atleast_1d(ra_deg), np.atleast_1d(dec_deg)
    if ra.size == 0:
        return out
    pix = enmap.sky2pix((ny, nx), wcs, np.deg2rad(np.vstack([dec, ra])))
    iy, ix = np.rint(pix[0]).astype(np.int64), np.rint(pix[1]).astype(np.int64)
    inside = (iy >= 0) & (iy < ny) & (ix >= 0) & (ix < nx)
    area = np.asarray(enmap.pixsizemap((ny, nx), wcs, broadcastable=True))[:, 0] * (180.0 * 60.0 / np.pi) ** 2
    iy, ix = iy[inside], ix[inside]
    np.add.at(out, (iy, ix), np.broadcast_to(np.asarray(amplitude, dtype=np.float64), ra.shape)[inside] / area[iy])
    return out
