"""The matched filter over a whole field, block by block, reduced to what each tile needs.

New maps arrive without a point-source catalog, so every block runs the
``mf_sz`` recipe in ``find`` mode: bright sources are found with a
beam-matched filter (positive peaks) and subtracted or masked
(:func:`~skysieve.mf.detect_sources`, :func:`~skysieve.mf.clean_sources`),
then the cluster filter gives the SNR maps and the detections.

Maps no larger than ``block_px`` on a side are filtered whole, with
periodic FFTs, by the same filter as the ``mf_sz`` stage.  Along a longer axis
the map is cut into blocks whose *inner* segments tile it; each block reaches
``margin_px`` beyond its inner segment on both sides — across the map edge by
wrapping around, since the whole-map filter treats the map as periodic too —
and only the inner region is kept.  A block is not periodic, so its FFT would
see jumps at its edges that ring through the filter: the block is
mean-subtracted and tapered to zero over the outer half of its margins (sin²
ramps); the inner region and the inner half of the margins keep weight 1.
Noise spectra estimated from the tapered block would be wrong twice over —
lowered by the taper's ``mean(w²)`` and raised by the point sources that the
taper dims below the detection threshold — so they are estimated from the
block seen through a second window that is zero wherever the taper acts and
rises to 1 over the inner half of the margins, and divided by that window's
``mean(w²)`` (:class:`WindowedNoise`).  Memory then depends on the block size,
not on the map size.

Survey maps with a footprint (:mod:`skysieve.data.footprint`) are whitened
and apodized before any of this — ``(d − mean) · √(w / median w) · taper``,
0 outside — so the FFTs see no blank pixels and no edge jumps and the white
noise has one depth; the noise spectra are estimated through the
footprint's noise window (zero wherever the taper acts, so only the fully
observed region enters, renormalised by its ``mean(w²)``); SNR maps are set
to 0 outside the footprint, so nothing is detected there; each detection's
``y_arcmin2`` is divided back by the depth factor at its position.

What is kept per tile is 8 bytes: the highest SNR (maximum over scales) in
its central region and the row of the best detection it holds; the
detections themselves are a table.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import scipy.fft
from astropy.table import Table, vstack

from skysieve.catalog import TileGrid
from skysieve.data.footprint import Footprint
from skysieve.data.maps import SkyMaps
from skysieve.errors import ConfigError
from skysieve.mf import (
    MapNoise,
    NoiseEstimator,
    NoiseSpectra,
    ScanNoise,
    build_matched_filter,
    clean_sources,
    detect_sources,
)
from skysieve.mf._fourier import FourierGrid
from skysieve.tasks.sz._catalog_config import CatalogConfig

__all__ = ["MapBlock", "TileMf", "WindowedNoise", "filter_tiles", "map_blocks"]


@dataclass(frozen=True)
class MapBlock:
    """One block of the map.

    Attributes
    ----------
    outer : (int, int, int, int)
        ``(y0, y1, x0, x1)``: the pixels filtered (half-open); may reach
        beyond the map, which then wraps around.
    inner : (int, int, int, int)
        ``(y0, y1, x0, x1)``: the pixels kept; the inner regions of all blocks tile the map.
    """

    outer: tuple[int, int, int, int]
    inner: tuple[int, int, int, int]


def _axis_blocks(n: int, block: int, margin: int) -> list[tuple[int, int, int, int]]:
    if n <= block:
        return [(0, n, 0, n)]
    k = int(np.ceil(n / (block - 2 * margin)))  # inner segments of at most block − 2·margin
    cuts = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a) - margin, int(b) + margin, int(a), int(b)) for a, b in pairwise(cuts)]


def map_blocks(shape: tuple[int, int], *, block_px: int, margin_px: int) -> list[MapBlock]:
    """Cut a map of ``shape`` = (ny, nx) into blocks of at most ``block_px`` pixels a side.

    An axis no longer than ``block_px`` is one segment, filtered whole; a
    longer one is cut into equal inner segments of at most
    ``block_px − 2 margin_px`` pixels, each widened by ``margin_px`` on both
    sides (wrapping around the map edges).

    Raises
    ------
    ConfigError
        If ``block_px`` leaves no inner region (``block_px ≤ 2 margin_px``).
    """
    if margin_px < 0 or block_px <= 2 * margin_px:
        raise ConfigError(f"matched-filter block of {block_px} px must exceed twice its margin of {margin_px} px; "
                          "raise the block size or lower the margin")
    ys = _axis_blocks(int(shape[0]), block_px, margin_px)
    xs = _axis_blocks(int(shape[1]), block_px, margin_px)
    return [MapBlock((oy0, oy1, ox0, ox1), (iy0, iy1, ix0, ix1))
            for oy0, oy1, iy0, iy1 in ys for ox0, ox1, ix0, ix1 in xs]


@dataclass
class TileMf:
    """The matched filter's output, reduced to tiles.

    Attributes
    ----------
    central_max : ndarray of shape (nty, ntx), float32
        Highest SNR (over scales and pixels) in each tile's central region.
    best_detection : ndarray of shape (nty, ntx), int32
        Row of ``detections`` with the highest SNR whose position lies in the
        tile's central region, or −1.
    detections : Table
        ``ra``, ``dec`` (deg), ``snr``, ``theta_c_arcmin``, ``y_arcmin2``,
        ``scale``, ``x``, ``y`` (pixels of the whole map), ``npix``, ``block``.
    sources : Table
        The point sources found (``ra``, ``dec``, ``x``, ``y``, ``snr``,
        ``flux_<band>_mjy``…), whole-map pixels.
    n_blocks : int
    n_sources_treated : int
        Sources subtracted or masked (above the flux cut).
    snr_threshold : float
        The detection threshold (caps the score of detection-free tiles).
    extra : ndarray of shape (k, 2), int64
        ``(tile id, row of detections)`` of every detection in a tile's
        central region that is not the tile's best: a second cluster in the
        tile, which the catalog makes a candidate of its own.
    """

    central_max: np.ndarray
    best_detection: np.ndarray
    detections: Table
    sources: Table
    n_blocks: int
    n_sources_treated: int
    snr_threshold: float
    extra: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    def tile_snr(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``mf_snr`` of tiles ``ids`` and the detection each holds.

        A tile holding a detection in its central region scores that
        detection's SNR; any other tile the highest SNR in its central region
        capped at the detection threshold (the ``mf_sz`` continuous score,
        ``docs/matched_filter.md``).

        Returns
        -------
        mf_snr : ndarray of shape (n,), float64
        detection : ndarray of shape (n,), int64
            Row of :attr:`detections`, or −1.
        """
        flat = np.asarray(ids, np.int64)
        det = self.best_detection.ravel()[flat].astype(np.int64)
        capped = np.minimum(self.central_max.ravel()[flat].astype(np.float64), self.snr_threshold)
        snr = np.asarray(self.detections["snr"], float) if len(self.detections) else np.zeros(0)
        return np.where(det >= 0, snr[np.maximum(det, 0)] if snr.size else 0.0, capped), det


def _ramp(n: int, start: int, width: int) -> np.ndarray:
    """1-D window of ``n`` pixels: 0 before ``start``, sin² up to 1 over ``width`` pixels, 1 to the middle; symmetric."""
    w = np.ones(n)
    if width > 0 or start > 0:
        edge = np.zeros(start + width)
        edge[start:] = np.sin(0.5 * np.pi * (np.arange(width) + 0.5) / max(width, 1)) ** 2
        w[:edge.size], w[n - edge.size:] = edge, edge[::-1]
    return w


@dataclass(frozen=True, eq=False)
class WindowedNoise:
    """Noise spectra of a block estimated through a window, and renormalised by its ``mean(w²)``.

    Wraps a :class:`~skysieve.mf.noise.NoiseEstimator`: the maps handed over
    (as their ``rfft2``) are brought back to pixels, multiplied by ``window``
    and transformed again before the wrapped estimator sees them; the spectra
    it returns are divided by ``mean(window²)``, the factor by which a smooth
    window lowers the power of a stationary field.

    Parameters
    ----------
    inner : NoiseEstimator
    window : ndarray of shape (ny, nx)
        Zero wherever the block's data are tapered, so dimmed sources and
        the taper itself leave the estimate alone.
    """

    inner: NoiseEstimator
    window: np.ndarray

    def spectra(self, *, grid: FourierGrid, bands, freqs_ghz=(), beam_fwhm_arcmin=(),
                dft: np.ndarray) -> NoiseSpectra:
        """Spectra of the windowed maps, divided by ``mean(window²)``."""
        x = scipy.fft.irfft2(dft, s=grid.shape, axes=(-2, -1))
        x *= self.window
        s = self.inner.spectra(grid=grid, bands=bands, freqs_ghz=freqs_ghz, beam_fwhm_arcmin=beam_fwhm_arcmin,
                               dft=scipy.fft.rfft2(x, axes=(-2, -1)))
        return NoiseSpectra(ell=s.ell, cl=s.cl / float(np.mean(self.window**2)), bands=s.bands)

    def mode_power(self, *, grid: FourierGrid, bands, freqs_ghz=(), beam_fwhm_arcmin=(),
                   dft: np.ndarray) -> np.ndarray | None:
        """The wrapped estimator's per-mode pixel power of the windowed maps, divided by ``mean(window²)``.

        None when the wrapped estimator is isotropic (has no ``mode_power``).
        """
        if getattr(self.inner, "mode_power", None) is None:
            return None
        x = scipy.fft.irfft2(dft, s=grid.shape, axes=(-2, -1))
        x *= self.window
        p = self.inner.mode_power(grid=grid, bands=bands, freqs_ghz=freqs_ghz, beam_fwhm_arcmin=beam_fwhm_arcmin,
                                  dft=scipy.fft.rfft2(x, axes=(-2, -1)))
        return p / float(np.mean(self.window**2))


def _cut(image: np.ndarray, block: MapBlock) -> np.ndarray:
    """The block's outer region of a (…, ny, nx) array, wrapping around the map edges."""
    y0, y1, x0, x1 = block.outer
    ny, nx = image.shape[-2:]
    rows, cols = np.arange(y0, y1) % ny, np.arange(x0, x1) % nx
    return image[..., rows[:, None], cols[None, :]]


def _sub_maps(maps: SkyMaps, block: MapBlock, *, subtract_mean: bool = True) -> tuple[SkyMaps, np.ndarray | None]:
    """The block's maps — wrapped, mean-subtracted and tapered where cut — and the noise window (None if whole)."""
    y0, y1, x0, x1 = block.outer
    iy0, _, ix0, _ = block.inner
    ny, nx = maps.data.shape[-2:]
    if (y0, x0) == (0, 0) and (y1, x1) == (ny, nx):
        return maps, None
    data = _cut(maps.data, block).astype(np.float32)  # one copy, block-sized
    if subtract_mean:  # (apodized footprint maps are 0 outside and zero-mean inside already)
        data -= data.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(np.float32)
    my, mx = iy0 - y0, ix0 - x0  # margins (0 along an axis that is not split)
    wy, wx = _ramp(y1 - y0, 0, my // 2), _ramp(x1 - x0, 0, mx // 2)
    data *= (wy[:, None] * wx[None, :]).astype(np.float32)
    noise_y, noise_x = _ramp(y1 - y0, my // 2, my - my // 2), _ramp(x1 - x0, mx // 2, mx - mx // 2)
    wcs = maps.wcs.deepcopy()
    wcs.wcs.crpix = wcs.wcs.crpix - np.array([x0, y0], dtype=float)  # pixel (0, 0) of the block is (x0, y0)
    sub = SkyMaps(data=data, wcs=wcs, bands=maps.bands, freqs_ghz=maps.freqs_ghz, unit=maps.unit, paths=maps.paths)
    return sub, noise_y[:, None] * noise_x[None, :]


def _update_central_max(central_max: np.ndarray, grid: TileGrid, peak: np.ndarray, block: MapBlock) -> None:
    """Fold the inner region of one block's peak-SNR map into the tiles' central maxima."""
    oy0, _, ox0, _ = block.outer
    iy0, iy1, ix0, ix1 = block.inner
    m, c = grid.margin_px, grid.central_px
    inner = peak[iy0 - oy0: iy1 - oy0, ix0 - ox0: ix1 - ox0]
    cy0, cx0 = grid.y0 + m, grid.x0 + m  # central regions: [c0, c0 + c)
    rows = np.flatnonzero((cy0 < iy1) & (cy0 + c > iy0))
    cols = np.flatnonzero((cx0 < ix1) & (cx0 + c > ix0))
    if not rows.size or not cols.size:
        return
    # Windows of c pixels starting at cx0 − ix0 over the row maxima padded with −inf by c on both sides.
    starts = cx0[cols] - ix0 + c
    for j in rows:
        ya, yb = max(cy0[j], iy0) - iy0, min(cy0[j] + c, iy1) - iy0
        line = np.full(inner.shape[1] + 2 * c, -np.inf, dtype=np.float32)
        line[c: c + inner.shape[1]] = inner[ya:yb].max(axis=0)
        windows = np.lib.stride_tricks.sliding_window_view(line, c)
        central_max[j, cols] = np.maximum(central_max[j, cols], windows[starts].max(axis=1))


def _interior(x: np.ndarray, y: np.ndarray, block: MapBlock) -> np.ndarray:
    """Distance (pixels) of whole-map positions from the nearest edge of the block (inf along unsplit axes)."""
    oy0, oy1, ox0, ox1 = block.outer
    iy0, _, ix0, _ = block.inner
    d = np.full(np.shape(x), np.inf)
    if ix0 != ox0:
        d = np.minimum(d, np.minimum(x - ox0, ox1 - 1 - x))
    if iy0 != oy0:
        d = np.minimum(d, np.minimum(y - oy0, oy1 - 1 - y))
    return d


def _dedupe(detections: Table, radius_px: float) -> Table:
    """Drop detections of one object made by two blocks: keep the one farthest from its block's edge."""
    if len(detections) < 2:
        return detections
    from scipy.spatial import cKDTree

    order = np.argsort(-np.asarray(detections["interior"], float), kind="stable")
    xy = np.column_stack([np.asarray(detections["x"], float), np.asarray(detections["y"], float)])
    block = np.asarray(detections["block"], np.int64)
    tree = cKDTree(xy)
    kept = np.zeros(len(detections), dtype=bool)
    for i in order:
        near = tree.query_ball_point(xy[i], radius_px)
        if not any(kept[j] and block[j] != block[i] for j in near):
            kept[i] = True
    return detections[np.sort(np.flatnonzero(kept))]


def filter_tiles(maps: SkyMaps, grid: TileGrid, *, config: CatalogConfig, block_px: int = 2048,
                 margin_px: int = 64, cmb_cl: Table | None = None, footprint: Footprint | None = None,
                 scan_noise: bool = False, on_block: Callable[[int], None] | None = None) -> TileMf:
    """Run the matched filter with source detection over ``maps``, block by block; reduce it to tiles.

    Parameters
    ----------
    maps : SkyMaps
        Band maps, µK_CMB, in the model's channel order, with frequencies.
    grid : TileGrid
        The tiles to score.
    config : CatalogConfig
        The model's ``mf_sz`` section and instrument.
    block_px, margin_px : int, keyword-only
        See :func:`map_blocks`.
    cmb_cl : Table, optional
        CMB spectrum, for ``mf_sz.noise_model = 'model'``.
    footprint : Footprint, optional
        Where the maps are observed and how deep (blank pixels may be NaN):
        the maps are whitened and apodized, the noise is estimated from the
        fully observed region, and nothing is detected outside.
    scan_noise : bool, keyword-only
        Model scan-direction stripes (:class:`~skysieve.mf.ScanNoise`): the
        filter weights every Fourier mode by its own noise (``maps`` noise model only).
    on_block : callable, optional
        Called with 1 after each block (progress).

    Returns
    -------
    TileMf
    """
    mfp = config.mf
    shape = tuple(maps.data.shape[-2:])
    edged = footprint is not None and not footprint.periodic
    if footprint is not None:
        maps = SkyMaps(data=footprint.whiten(maps.data), wcs=maps.wcs, bands=maps.bands, freqs_ghz=maps.freqs_ghz,
                       unit=maps.unit, paths=maps.paths)
    blocks = map_blocks(shape, block_px=block_px, margin_px=margin_px)
    central_max = np.full((grid.nty, grid.ntx), -np.inf, dtype=np.float32)
    tol = 2.0
    dets, srcs, n_treated = [], [], 0
    for k, block in enumerate(blocks):
        if edged and not _cut(footprint.mask, block).any():  # nothing observed: nothing to filter or detect
            if on_block is not None:
                on_block(1)
            continue
        sub, window = _sub_maps(maps, block, subtract_mean=not edged)
        if edged:  # noise from the fully observed region only
            fp_window = _cut(footprint.noise_window, block).astype(np.float64)
            window = fp_window if window is None else window * fp_window
            if not window.any():  # a block with no fully observed pixel: the footprint's taper wherever it is > 0
                window = (_cut(footprint.taper, block) > 0).astype(np.float64)
        mf = build_matched_filter(mfp, bands=config.bands, cmb_cl=cmb_cl, tcmb_k=config.tcmb_k)
        if scan_noise and isinstance(mf.noise, MapNoise):
            mf.noise = ScanNoise(mf.noise)
        if window is not None and isinstance(mf.noise, MapNoise | ScanNoise):
            mf.noise = WindowedNoise(mf.noise, window)
        mf.check_bands(sub)
        found = detect_sources(sub, beam_fwhm_arcmin=mf.beam_fwhm_arcmin, noise=mf.noise,
                               snr_threshold=mfp.source_snr_threshold)
        cleaned = clean_sources(sub, found, treatment=mfp.source_treatment, flux_cut_mjy=mfp.flux_cut_mjy,
                                beam_fwhm_arcmin=mf.beam_fwhm_arcmin, mask_radius_arcmin=mfp.mask_radius_arcmin)
        n_treated += cleaned.n_treated
        del sub
        snr = mf.fit_transform(cleaned.maps)
        if cleaned.mask is not None:
            snr[:, cleaned.mask] = 0.0  # inpainted holes hold no data: no detections, no score there
        if edged:
            snr[:, ~_cut(footprint.mask, block)] = 0.0  # unobserved: no detections, no score there
        det = mf.detections(snr)
        peak = snr.max(axis=0)
        del snr, cleaned
        _update_central_max(central_max, grid, peak, block)
        del peak
        oy0, _, ox0, _ = block.outer
        iy0, iy1, ix0, ix1 = block.inner
        for table, pad in ((det, tol), (found, 0.0)):
            table["x"] = np.asarray(table["x"], float) + ox0
            table["y"] = np.asarray(table["y"], float) + oy0
            x, y = np.asarray(table["x"], float), np.asarray(table["y"], float)
            keep = (x >= ix0 - 0.5 - pad) & (x < ix1 - 0.5 + pad) & (y >= iy0 - 0.5 - pad) & (y < iy1 - 0.5 + pad)
            table.remove_rows(np.flatnonzero(~keep))
            if len(blocks) > 1:  # whole-map pixels (wrapped) and sky positions
                table["x"] = (np.asarray(table["x"], float) + 0.5) % shape[1] - 0.5
                table["y"] = (np.asarray(table["y"], float) + 0.5) % shape[0] - 0.5
                ra, dec = maps.wcs.celestial.pixel_to_world_values(np.asarray(table["x"], float),
                                                                   np.asarray(table["y"], float))
                table["ra"], table["dec"] = np.asarray(ra, float) % 360.0, np.asarray(dec, float)
            table["block"] = np.full(len(table), k, dtype=np.int64)
        det["interior"] = _interior(np.asarray(det["x"], float), np.asarray(det["y"], float), block)
        dets.append(det)
        srcs.append(found)
        if on_block is not None:
            on_block(1)
    detections = vstack(dets, metadata_conflicts="silent") if dets else Table()
    if len(blocks) > 1:
        detections = _dedupe(detections, radius_px=1.0 / maps.pixel_arcmin)
    detections.remove_column("interior")
    if edged and len(detections):
        x, y = np.asarray(detections["x"], float), np.asarray(detections["y"], float)
        detections = detections[footprint.edge_distance_arcmin(x, y) > 0]  # a centroid off a concave edge
    if footprint is not None and footprint.relative_weight is not None and len(detections):
        x, y = np.asarray(detections["x"], float), np.asarray(detections["y"], float)
        detections["y_arcmin2"] = np.asarray(detections["y_arcmin2"], float) / footprint.depth_factor(x, y)
    sources = vstack(srcs, metadata_conflicts="silent")
    if "source_id" in sources.colnames:
        sources["source_id"] = np.arange(len(sources), dtype=np.int64)
    # Each tile's best detection: the highest-SNR one in its central region; the others there are extra.
    best = np.full(grid.n, -1, dtype=np.int32)
    extra = []
    snr = np.asarray(detections["snr"], float) if len(detections) else np.zeros(0)
    for d in np.argsort(-snr, kind="stable"):
        ids = grid.holders(detections["x"][d], detections["y"][d])
        free = best[ids] < 0
        best[ids[free]] = d
        extra.extend((int(t), int(d)) for t in ids[~free])
    return TileMf(central_max, best.reshape(grid.nty, grid.ntx), detections, sources, len(blocks), n_treated,
                  float(mfp.snr_threshold), np.asarray(extra, dtype=np.int64).reshape(-1, 2))
