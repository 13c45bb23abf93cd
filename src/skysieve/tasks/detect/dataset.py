"""Fields → the engine's dataset: stretched g, r, i images, centre-heatmap targets, splits.

Each simulated field is one training image (``cutouts.h5`` ``images``) with
its dense target (``targets``, :mod:`skysieve.data.targets`, loss
``centre_heatmap``): a Gaussian bump at every cluster centre, and the log box
size there.  ``label`` is 1 for a field with at least one cluster.
``clusters.fits`` beside the catalog holds every cluster's centre, redshift
and proper kpc per pixel, and the scoring of ``evaluate_detect``, for the
per-epoch validation metric (:mod:`skysieve.tasks.detect.selection`).
"""

from pathlib import Path

import numpy as np

__all__ = ["TARGET_CHANNELS", "build_dataset", "centre_cell", "heatmap_targets", "stretch"]

TARGET_CHANNELS = ("heatmap", "log_width", "log_height")


def stretch(images: np.ndarray, *, kind: str, softening: float = 3.0) -> np.ndarray:
    r"""Deep-CEE's square-root (or an asinh) stretch of band images, per band in units of its own noise.

    With :math:`m` the median and :math:`\sigma = 1.4826\,\mathrm{MAD}` of a
    band's finite pixels and :math:`v = (x - m)/\sigma`:

    * ``sqrt``: :math:`y = \mathrm{sign}(v)\sqrt{|v|}`;
    * ``asinh``: :math:`y = \mathrm{asinh}(v / a)` (softening :math:`a`).

    NaN pixels (outside the footprint) become 0 (the sky level).

    Parameters
    ----------
    images : ndarray of shape (ny, nx, nband)
    kind : {"sqrt", "asinh"}
    softening : float

    Returns
    -------
    ndarray of shape (ny, nx, nband), float32
    """
    x = np.asarray(images, dtype=np.float64)
    out = np.zeros_like(x)
    for b in range(x.shape[-1]):
        band = x[..., b]
        good = np.isfinite(band)
        if not good.any():
            continue
        med = np.median(band[good])
        sigma = 1.4826 * np.median(np.abs(band[good] - med))
        sigma = sigma if sigma > 0 else max(float(np.std(band[good])), 1e-12)
        v = np.where(good, (band - med) / sigma, 0.0)
        out[..., b] = np.sign(v) * np.sqrt(np.abs(v)) if kind == "sqrt" else np.arcsinh(v / softening)
    return out.astype(np.float32)


def centre_cell(x_px: np.ndarray | float, *, stride: int) -> np.ndarray:
    """The heatmap cell holding input pixel coordinate ``x_px`` (0-based pixel centres): floor((x + 0.5) / stride)."""
    return np.floor((np.asarray(x_px, dtype=np.float64) + 0.5) / stride).astype(np.int64)


def heatmap_targets(x_px, y_px, width_px, height_px, *, size_px: int, stride: int, min_sigma: float,
                    sigma_px=None) -> np.ndarray:
    r"""CenterNet targets of one image: heatmap, log width, log height on a grid ``stride`` times coarser.

    Each object puts :math:`\exp(-((i - c_x)^2 + (j - c_y)^2) / 2\sigma^2)` around its
    centre cell :math:`(c_x, c_y)` (exactly 1 there; the maximum where
    objects overlap), :math:`\sigma = \max(\sigma_{min}, \sqrt{w h}/6)` in
    heatmap pixels — or :math:`\max(\sigma_{min}, \sigma_{px}/s)` when the
    per-object ``sigma_px`` (input pixels) is given; the size channels hold
    :math:`\ln(w / s)`, :math:`\ln(h / s)` at the centre cells (0 elsewhere).

    Returns
    -------
    ndarray of shape (size_px / stride, size_px / stride, 3), float32
    """
    n = size_px // stride
    out = np.zeros((n, n, 3), dtype=np.float32)
    jj, ii = np.mgrid[:n, :n]
    x_px, y_px = np.atleast_1d(x_px), np.atleast_1d(y_px)
    sig = np.full(x_px.shape, np.nan) if sigma_px is None else np.broadcast_to(np.asarray(sigma_px, float), x_px.shape)
    for x, y, w, h, s in zip(x_px, y_px, np.atleast_1d(width_px), np.atleast_1d(height_px), sig, strict=True):
        cx, cy = int(np.clip(centre_cell(x, stride=stride), 0, n - 1)), int(np.clip(centre_cell(y, stride=stride),
                                                                                  0, n - 1))
        sigma = max(min_sigma, (np.sqrt(w * h) / 6.0 if np.isnan(s) else s) / stride)
        bump = np.exp(-((ii - cx) ** 2 + (jj - cy) ** 2) / (2 * sigma**2))
        out[..., 0] = np.maximum(out[..., 0], bump)
        out[cy, cx, 0] = 1.0
        out[cy, cx, 1] = np.log(max(w, 1.0) / stride)
        out[cy, cx, 2] = np.log(max(h, 1.0) / stride)
    return out


def build_dataset(sim_dir: Path, out_dir: Path, cfg, *, bands: tuple[str, ...], scoring, cosmo,
                  progress: bool = True) -> dict:
    """Write ``cutouts.h5`` (images + targets), ``catalog.fits`` and ``clusters.fits`` into ``out_dir``.

    Parameters
    ----------
    sim_dir : Path
        ``skysieve simulate detect`` output (``fields.fits``, ``truth.fits``, ``fields/``).
    out_dir : Path
        A new directory (the caller replaces it atomically).
    cfg : CutoutsDetectParams
    bands : tuple of str
    scoring : EvaluateDetectParams
        The matching and decoding the validation metric applies (written to ``clusters.fits``).
    cosmo : CosmologyParams
        For proper kpc per pixel at each cluster's z and the merging radius.

    Returns
    -------
    dict
        Counts per split.
    """
    import h5py
    from astropy.table import Table
    from tqdm import tqdm

    from skysieve.data.dataset import IMAGES_KEY
    from skysieve.data.targets import write_dense_targets
    from skysieve.errors import DataError
    from skysieve.tasks.detect._fits import read_bands

    for name in ("fields.fits", "truth.fits"):
        if not (sim_dir / name).is_file():
            raise DataError(f"{sim_dir / name}: not found; run `skysieve simulate detect --out {sim_dir}` first")
    fields, truth = Table.read(sim_dir / "fields.fits"), Table.read(sim_dir / "truth.fits")
    n = len(fields)
    images, targets, pixel_arcsec = [], [], None
    for row in tqdm(fields, desc="fields → dataset", disable=not progress, unit="field"):
        paths = [sim_dir / str(row[f"file_{b}"]).strip() for b in bands]
        bands_read = read_bands(paths, bands=bands)
        data = bands_read.data
        pixel_arcsec = bands_read.pixel_arcsec
        size = data.shape[0]
        if size % cfg.output_stride:
            raise DataError(f"{paths[0]}: {size} px does not divide by cutouts_detect.output_stride = "
                            f"{cfg.output_stride}")
        mine = truth[truth["field"] == row["field"]]
        sigma_px = None
        if cfg.target_sigma_kpc is not None:
            # proper kpc per pixel at each cluster's z: (R200 kpc / R200 arcsec) × arcsec per pixel
            arcsec_px = bands_read.pixel_arcsec
            sigma_px = cfg.target_sigma_kpc / (np.asarray(mine["r200_kpc"]) / np.asarray(mine["r200_arcsec"])
                                               * arcsec_px)
        images.append(stretch(data, kind=cfg.stretch, softening=cfg.asinh_softening))
        targets.append(heatmap_targets(np.asarray(mine["x_px"]), np.asarray(mine["y_px"]),
                                       np.asarray(mine["box_x1"] - mine["box_x0"]),
                                       np.asarray(mine["box_y1"] - mine["box_y0"]),
                                       size_px=size, stride=cfg.output_stride, min_sigma=cfg.min_sigma_px,
                                       sigma_px=sigma_px))
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(n)
    split = np.full(n, "train", dtype="U5")
    n_test, n_val = int(round(cfg.test_frac * n)), int(round(cfg.val_frac * n))
    split[order[:n_test]] = "test"
    split[order[n_test: n_test + n_val]] = "val"
    n_cl = np.asarray(fields["n_clusters"])
    catalog = Table({"id": np.asarray(fields["field"]), "ra": np.asarray(fields["ra"]),
                     "dec": np.asarray(fields["dec"]), "label": (n_cl > 0).astype(np.int16), "split": split,
                     "group": (np.arange(n) * cfg.groups // n).astype(np.int32), "n_clusters": n_cl})
    catalog.meta["STRETCH"] = cfg.stretch
    out_dir.mkdir(parents=True, exist_ok=True)
    with h5py.File(out_dir / "cutouts.h5", "w") as h5:
        x = np.stack(images)
        ds = h5.create_dataset(IMAGES_KEY, data=x, chunks=(1, *x.shape[1:]))
        ds.attrs["channels"] = list(bands)
        ds.attrs["unit"] = f"{cfg.stretch}-stretched, noise units"
        write_dense_targets(h5, np.stack(targets), loss="centre_heatmap", stride=cfg.output_stride,
                            channels=TARGET_CHANNELS)
    catalog.write(out_dir / "catalog.fits", overwrite=True)
    if pixel_arcsec is not None:
        from skysieve.tasks.detect.report import kpc_per_pixel, nms_radius_arcsec
        from skysieve.tasks.detect.selection import CLUSTERS_FILE, cluster_truth

        kpp = kpc_per_pixel(np.asarray(truth["z"]), pixel_arcsec=pixel_arcsec, cosmo=cosmo)
        cluster_truth(truth, kpc_per_px=kpp, cfg=scoring,
                      nms_px=nms_radius_arcsec(scoring, cosmo=cosmo) / pixel_arcsec).write(out_dir / CLUSTERS_FILE)
    return {s: int((split == s).sum()) for s in ("train", "val", "test")}
