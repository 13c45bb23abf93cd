"""Staggered square cutouts of a multi-band map, labelled from a halo catalog.

DeepSZ (Lin et al. 2021, §1.2): 8′×8′ cutouts of 32 px with a 6′ stride, so
neighbours share 2′; a cutout is positive iff a halo with M ≥ 2e14 Msun and
z ≥ 0.25 lies in its central 6′×6′.  Because stride = central size, the
central regions tile the sky and every halo is "central" in exactly one
cutout.  The sky is split by RA into test / validation / training strips, and
in the training strip negatives adjacent to a positive are dropped.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

from skysieve._columns import column_values
from skysieve._io import atomic_path
from skysieve.data.dataset import IMAGES_KEY
from skysieve.data.maps import SkyMaps
from skysieve.errors import ConfigError
from skysieve.tasks.sz.params import CutoutsSzParams

__all__ = ["CutoutGrid", "cutout_grid", "label_cutouts", "plan_cutouts", "write_cutouts"]

#: Truth columns copied from the halo catalog onto the cutout holding the halo.
TRUTH_COLUMNS = ("halo_id", "m500c", "mvir", "z", "y5r500_arcmin2", "theta_c_arcmin")


@dataclass(frozen=True)
class CutoutGrid:
    """Pixel geometry of the cutout grid.

    Attributes
    ----------
    size_px, stride_px, central_px : int
        Cutout side, stride and central-region side in pixels.
    nx, ny : int
        Number of cutouts along x (RA) and y (Dec).
    """

    size_px: int
    stride_px: int
    central_px: int
    nx: int
    ny: int

    @property
    def margin_px(self) -> int:
        """Pixels between a cutout edge and its central region."""
        return (self.size_px - self.central_px) // 2


def _to_px(value_arcmin: float, pixel_arcmin: float, key: str) -> int:
    n = value_arcmin / pixel_arcmin
    if abs(n - round(n)) > 1e-6 or round(n) < 1:
        raise ConfigError(
            f"cutouts_sz.{key} = {value_arcmin}′ is not a whole number of {pixel_arcmin}′ pixels; "
            f"use a multiple of {pixel_arcmin}"
        )
    return int(round(n))


def cutout_grid(map_shape: tuple[int, int], pixel_arcmin: float, cfg: CutoutsSzParams) -> CutoutGrid:
    """The grid of cutouts that fits in a map of ``map_shape`` = (ny, nx) pixels."""
    size = _to_px(cfg.size_arcmin, pixel_arcmin, "size_arcmin")
    stride = _to_px(cfg.stride_arcmin, pixel_arcmin, "stride_arcmin")
    central = _to_px(cfg.central_arcmin, pixel_arcmin, "central_arcmin")
    if (size - central) % 2:
        raise ConfigError(
            f"cutouts_sz: size_arcmin - central_arcmin must be an even number of pixels "
            f"(got {size - central} px) so the central region is centred"
        )
    ny, nx = map_shape
    if ny < size or nx < size:
        raise ConfigError(f"cutouts_sz.size_arcmin = {cfg.size_arcmin}′ is larger than the map ({ny}×{nx} px)")
    return CutoutGrid(size, stride, central, (nx - size) // stride + 1, (ny - size) // stride + 1)


def label_cutouts(
    grid: CutoutGrid, halo_x: np.ndarray, halo_y: np.ndarray, mass: np.ndarray, z: np.ndarray, cfg: CutoutsSzParams
) -> tuple[np.ndarray, np.ndarray]:
    """Label every cutout and find the halo each one holds.

    A halo at pixel position (x, y) (pixel centres at integers) lies in the
    central region of cutout (i, j) iff
    ``x0 + m − ½ ≤ x < x0 + m + c − ½`` with ``x0 = i·stride``, ``m`` the
    margin and ``c`` the central side (same in y).

    Returns
    -------
    label : ndarray of shape (ny, nx), int8
        1 iff a halo passing ``cfg.positive`` lies in the central region.
    holder : ndarray of shape (ny, nx), int64
        Index into the halo arrays of the halo the cutout holds — the most
        massive passing halo for positives, else the most massive halo of any
        mass in the central region — or −1.
    """
    label = np.zeros((grid.ny, grid.nx), dtype=np.int8)
    holder = np.full((grid.ny, grid.nx), -1, dtype=np.int64)
    best_mass = np.full((grid.ny, grid.nx), -np.inf)
    passing = (mass >= cfg.positive.m_min_msun) & (z >= cfg.positive.z_min)
    m, c, s = grid.margin_px, grid.central_px, grid.stride_px
    # Process non-passing halos first, then passing ones, so a positive cutout's holder is a passing halo.
    for k in np.concatenate([np.flatnonzero(~passing), np.flatnonzero(passing)]):
        ix = _central_indices(halo_x[k], m, c, s, grid.nx)
        iy = _central_indices(halo_y[k], m, c, s, grid.ny)
        for j in iy:
            for i in ix:
                if passing[k] and not label[j, i]:
                    label[j, i], best_mass[j, i], holder[j, i] = 1, mass[k], k
                elif (passing[k] or not label[j, i]) and mass[k] > best_mass[j, i]:
                    best_mass[j, i], holder[j, i] = mass[k], k
    return label, holder


def _central_indices(pos: float, margin: int, central: int, stride: int, n: int) -> np.ndarray:
    """Grid indices i with i·stride + margin − ½ ≤ pos < i·stride + margin + central − ½."""
    lo = int(np.floor((pos + 0.5 - margin - central) / stride)) + 1
    hi = int(np.floor((pos + 0.5 - margin) / stride))
    idx = np.arange(max(lo, 0), min(hi, n - 1) + 1)
    inside = (idx * stride + margin - 0.5 <= pos) & (pos < idx * stride + margin + central - 0.5)
    return idx[inside]


def plan_cutouts(maps_shape: tuple[int, int], wcs: WCS, pixel_arcmin: float, halos: Table,
                 cfg: CutoutsSzParams, *, split: str | None = None) -> Table:
    """Lay out the cutouts, label them, split them (by RA, or all into ``split``) and attach the truth.

    Parameters
    ----------
    maps_shape : (ny, nx)
        Pixel shape of the band maps.
    wcs : astropy.wcs.WCS
        Their celestial WCS.
    pixel_arcmin : float
        Pixel side.
    halos : Table
        Halo truth catalog with ``ra``, ``dec`` (deg), ``z`` and the mass
        column named by ``cfg.positive.mass_column`` (Msun).
    cfg : CutoutsSzParams
    split : {"train", "val", "test"}, optional
        Every cutout's split (a whole patch held out, :mod:`skysieve.tasks.sz.sky_cutouts`);
        by default the RA strips of ``cfg.split``.

    Returns
    -------
    Table
        One row per kept cutout: ``id``, ``ix``, ``iy``, ``x0``, ``y0``,
        ``size_px``, ``ra``, ``dec`` (centre, deg), ``label``, ``split``,
        ``group``, ``has_halo`` and the truth of the held halo
        (:data:`TRUTH_COLUMNS`, NaN / −1 where none) with ``offset_arcmin``
        (halo distance from the cutout centre).
    """
    grid = cutout_grid(maps_shape, pixel_arcmin, cfg)
    mass_col = cfg.positive.mass_column
    if mass_col not in halos.colnames:
        raise ConfigError(f"cutouts_sz.positive.mass_column = {mass_col!r} is not a halo catalog column "
                          f"(have {halos.colnames})")
    mass = column_values(halos[mass_col], u.Msun, table="halo catalog")
    hx, hy = wcs.world_to_pixel_values(column_values(halos["ra"], u.deg, table="halo catalog"),
                                       column_values(halos["dec"], u.deg, table="halo catalog"))
    label, holder = label_cutouts(grid, np.asarray(hx), np.asarray(hy), mass, column_values(halos["z"]), cfg)

    iy, ix = np.meshgrid(np.arange(grid.ny), np.arange(grid.nx), indexing="ij")
    x0, y0 = ix * grid.stride_px, iy * grid.stride_px
    xc, yc = x0 + (grid.size_px - 1) / 2, y0 + (grid.size_px - 1) / 2
    ra, dec = wcs.pixel_to_world_values(xc, yc)

    if split is not None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test' (got {split!r})")
        split = np.full(label.shape, split)
    else:  # by RA along the patch: fractions of the RA extent from its low-RA edge (DeepSZ §1.2)
        ra_rel = ((ra - ra[grid.ny // 2, grid.nx // 2] + 180.0) % 360.0) - 180.0
        frac = (ra_rel - ra_rel.min()) / max(np.ptp(ra_rel), 1e-12)
        split = np.where(frac < cfg.split.test_frac, "test",
                         np.where(frac < cfg.split.test_frac + cfg.split.val_frac, "val", "train"))

    tile_px = max(int(round(cfg.group_tile_deg * 60.0 / pixel_arcmin)), 1)
    ntx = int(np.ceil((grid.nx * grid.stride_px) / tile_px))
    group = (yc // tile_px).astype(np.int64) * ntx + (xc // tile_px).astype(np.int64)

    keep = np.ones_like(label, dtype=bool)
    if cfg.drop_adjacent_negatives_in_train:
        padded = np.pad(label, 1)
        near = np.zeros_like(label, dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dx or dy:
                    near |= padded[1 + dy: 1 + dy + grid.ny, 1 + dx: 1 + dx + grid.nx] == 1
        keep &= ~((split == "train") & (label == 0) & near)

    flat = keep.ravel()
    h = holder.ravel()[flat]
    table = Table()
    table["id"] = (iy * grid.nx + ix).ravel()[flat].astype(np.int64)
    table["ix"] = ix.ravel()[flat].astype(np.int32)
    table["iy"] = iy.ravel()[flat].astype(np.int32)
    table["x0"] = x0.ravel()[flat].astype(np.int32)
    table["y0"] = y0.ravel()[flat].astype(np.int32)
    table["size_px"] = np.full(flat.sum(), grid.size_px, dtype=np.int32)
    table["ra"] = ra.ravel()[flat] * u.deg
    table["dec"] = dec.ravel()[flat] * u.deg
    table["label"] = label.ravel()[flat].astype(np.int8)
    table["split"] = split.ravel()[flat].astype("U5")
    table["group"] = group.ravel()[flat]
    table["has_halo"] = h >= 0
    for col in TRUTH_COLUMNS:
        if col not in halos.colnames:
            continue
        src = halos[col]
        values = np.asarray(src)
        if values.dtype.kind in "iu":
            out = np.where(h >= 0, values[np.maximum(h, 0)], -1)
        else:
            out = np.where(h >= 0, values[np.maximum(h, 0)].astype(float), np.nan)
        table[col] = out * src.unit if getattr(src, "unit", None) is not None else out
    dx_px = np.where(h >= 0, np.asarray(hx)[np.maximum(h, 0)] - xc.ravel()[flat], np.nan)
    dy_px = np.where(h >= 0, np.asarray(hy)[np.maximum(h, 0)] - yc.ravel()[flat], np.nan)
    table["offset_arcmin"] = np.hypot(dx_px, dy_px) * pixel_arcmin * u.arcmin
    table.meta.update(
        {"SIZE_PX": grid.size_px, "STRIDE": grid.stride_px, "CENTRAL": grid.central_px,
         "PIX_AMIN": pixel_arcmin, "MASS_COL": mass_col, "M_MIN": cfg.positive.m_min_msun,
         "Z_MIN": cfg.positive.z_min}
    )
    return table


def write_cutouts(maps: SkyMaps | Mapping[str, Callable[[], SkyMaps]], catalog: Table, out_dir: str | Path, *,
                  block: int = 512, progress: bool = False) -> Path:
    """Stream the cutouts of ``catalog`` from ``maps`` into ``out_dir`` atomically.

    Writes ``cutouts.h5`` (dataset ``images`` of shape (n, size, size, nband),
    float32, chunked by 16 cutouts, attributes ``channels``, ``unit`` and
    ``pixel_arcmin``) and ``catalog.fits``.  Memory stays at one block of
    cutouts (and one patch's maps); the directory appears only when both files are complete.

    Parameters
    ----------
    maps : SkyMaps or mapping of str to callable
        The band maps; or, for a sky of several patches, a loader of each
        patch's maps by the name in the catalog's ``patch`` column (each
        patch's rows contiguous, as :func:`~skysieve.tasks.sz.sky_cutouts.plan_sky_cutouts`
        lays them out).  Every patch must have the same bands.
    """
    size = int(catalog.meta["SIZE_PX"]) if len(catalog) == 0 else int(catalog["size_px"][0])
    n = len(catalog)
    if isinstance(maps, SkyMaps):
        runs = [(maps.bands, lambda: maps, np.arange(n))]
    else:
        patch = np.char.strip(np.asarray(catalog["patch"], dtype=str))
        runs = [(name, load, np.flatnonzero(patch == name)) for name, load in maps.items()]
        if sum(r.size for _, _, r in runs) != n:
            raise ValueError(f"catalog rows of patches {sorted(set(patch) - set(maps))} have no maps")
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        with h5py.File(tmp / "cutouts.h5", "w") as h5:
            dset = None
            for name, load, rows in runs:
                if rows.size and np.any(np.diff(rows) != 1):
                    raise ValueError(f"the catalog rows of patch {name!r} are not contiguous")
                if not rows.size and dset is not None:
                    continue
                patch_maps = load()
                if dset is None:
                    dset = h5.create_dataset(IMAGES_KEY, shape=(n, size, size, patch_maps.data.shape[0]),
                                             dtype="float32",
                                             chunks=(min(16, max(n, 1)), size, size, patch_maps.data.shape[0]))
                    dset.attrs["channels"] = np.array(patch_maps.bands, dtype="S")
                    dset.attrs["unit"] = patch_maps.unit
                    dset.attrs["pixel_arcmin"] = patch_maps.pixel_arcmin
                    channels = patch_maps.bands
                elif patch_maps.bands != channels:
                    raise ValueError(f"patch {name!r} has bands {patch_maps.bands}, the first patch {channels}")
                _fill(dset, patch_maps, catalog, rows, size=size, block=block, progress=progress)
        catalog.write(tmp / "catalog.fits")
    return Path(out_dir)


def _fill(dset, maps: SkyMaps, catalog: Table, rows: np.ndarray, *, size: int, block: int, progress: bool) -> None:
    """Copy the cutouts of ``rows`` (contiguous) from ``maps`` into ``dset``, one block at a time."""
    x0, y0 = np.asarray(catalog["x0"]), np.asarray(catalog["y0"])
    starts = range(0, rows.size, block)
    if progress:
        from rich.progress import track

        starts = track(starts, description="writing cutouts")
    for start in starts:
        stop = min(start + block, rows.size)
        chunk = np.empty((stop - start, size, size, maps.data.shape[0]), dtype=np.float32)
        for j, k in enumerate(rows[start:stop]):
            chunk[j] = maps.data[:, y0[k]: y0[k] + size, x0[k]: x0[k] + size].transpose(1, 2, 0)
        dset[rows[start]: rows[start] + stop - start] = chunk
