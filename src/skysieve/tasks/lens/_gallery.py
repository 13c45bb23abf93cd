"""Galleries of the worst errors of the lens finder (Angora et al. 2023, Figs. 7 and 10): look before trusting.

The false positives a finder is most sure of (the highest-scored
non-lenses) and the false negatives it is most sure of (the lowest-scored
lenses), each panel titled with its truth: kind, score, and for lenses the
Einstein radius, source magnitude and matched-filter arc SNR.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from skysieve.evaluate._plots import save_figure

__all__ = ["composite", "gallery_titles", "plot_gallery", "worst_errors", "write_error_galleries"]


def worst_errors(labels: np.ndarray, scores: np.ndarray, *, threshold: float, n: int
                 ) -> dict[str, np.ndarray]:
    """Indices of the ``n`` worst false positives and false negatives at ``threshold``.

    Returns
    -------
    dict
        ``false_positive``: non-lenses with score ≥ threshold, highest score
        first; ``false_negative``: lenses with score < threshold, lowest
        first.  Fewer than ``n`` where there are fewer errors.
    """
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    fp = np.flatnonzero(~y & (s >= threshold))
    fn = np.flatnonzero(y & (s < threshold))
    return {"false_positive": fp[np.argsort(-s[fp], kind="stable")][:n],
            "false_negative": fn[np.argsort(s[fn], kind="stable")][:n]}


def _fmt(value, spec: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "?"
    return "–" if not np.isfinite(v) else format(v, spec)


def gallery_titles(rows: Table, scores: np.ndarray) -> list[str]:
    """One title per cutout: id, kind and score; θ_E, source F814W and arc SNR for a lens; lens F814W otherwise.

    ``rows`` holds the catalog rows (``id``, ``kind``, ``theta_e_arcsec``,
    ``src_mag_f814w``, ``arc_snr``, ``lens_mag_f814w``; absent columns print ``?``).
    """
    def get(row, name):
        return row[name] if name in rows.colnames else np.nan

    titles = []
    for row, p in zip(rows, scores, strict=True):
        kind = str(get(row, "kind")).strip() if "kind" in rows.colnames else "?"
        head = f"{row['id']} {kind} p={p:.2f}"
        if int(row["label"]) == 1:
            body = (f"θE={_fmt(get(row, 'theta_e_arcsec'), '.2f')}″ src={_fmt(get(row, 'src_mag_f814w'), '.1f')} "
                    f"SNR={_fmt(get(row, 'arc_snr'), '.1f')}")
        else:
            body = f"lens F814W={_fmt(get(row, 'lens_mag_f814w'), '.1f')}"
        titles.append(f"{head}\n{body}")
    return titles


def composite(cutout: np.ndarray, *, ring_frac: float = 1.0) -> np.ndarray:
    """An RGB (or grey) image in [0, 1]: each band asinh-stretched by its outer-ring noise, reddest band as red.

    Parameters
    ----------
    cutout : ndarray of shape (ny, nx, nchan)
        Bands in channel order, bluest first.

    Returns
    -------
    ndarray of shape (ny, nx, 3)
    """
    ny, nx, nchan = cutout.shape
    yy, xx = np.mgrid[:ny, :nx]
    ring = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2) >= ring_frac * min(ny, nx) / 2
    out = np.empty((ny, nx, nchan))
    for c in range(nchan):
        band = cutout[..., c].astype(np.float64)
        med = np.median(band[ring])
        sigma = max(1.4826 * np.median(np.abs(band[ring] - med)), 1e-12)
        out[..., c] = np.arcsinh((band - med) / sigma)
    lo, hi = np.percentile(out, 1), np.percentile(out, 99.7)
    out = np.clip((out - lo) / max(hi - lo, 1e-12), 0, 1)
    if nchan >= 3:
        return out[..., [-1, nchan // 2, 0]]  # red = reddest band
    return np.repeat(out[..., :1], 3, axis=-1)


def plot_gallery(images: Sequence[np.ndarray], titles: Sequence[str], path: str | Path, *, title: str,
                 columns: int = 4) -> Path:
    """A grid of :func:`composite` images with one title each (an empty gallery says so)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(images)
    ncol = max(1, min(columns, n))
    nrow = max(1, -(-n // ncol))
    fig = Figure(figsize=(2.4 * ncol, 2.6 * nrow + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, image, label in zip(axes, images, titles, strict=False):
        ax.imshow(composite(image), origin="lower", interpolation="nearest")
        ax.set_title(label, fontsize=7)
    if n == 0:
        axes[0].text(0.5, 0.5, "none", ha="center", va="center", transform=axes[0].transAxes)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def write_error_galleries(dataset, scores: Table, *, threshold: float, n: int, out_dir: str | Path,
                          split: str = "test") -> Mapping[str, Path]:
    """Write ``gallery_false_positives_<split>.png`` and ``gallery_false_negatives_<split>.png``.

    Parameters
    ----------
    dataset : CutoutDataset
        The cutouts and their catalog (truth columns, ``id``).
    scores : Table
        ``id``, ``split``, ``label``, ``cnn_prob`` (the evaluate stage's scores).
    threshold : float, keyword-only
        The operating threshold.
    n : int, keyword-only
        Cutouts per gallery.
    out_dir : str or Path, keyword-only

    Returns
    -------
    dict of str to Path
        ``false_positives_<split>``, ``false_negatives_<split>``.
    """
    part = scores[np.char.strip(np.asarray(scores["split"]).astype(str)) == split]
    catalog = dataset.catalog
    row_of = {v: i for i, v in enumerate(np.asarray(catalog["id"]).tolist())}
    prob = np.asarray(part["cnn_prob"], dtype=np.float64)
    picks = worst_errors(np.asarray(part["label"]), prob, threshold=threshold, n=n)
    files = {}
    for kind, idx in picks.items():
        rows = np.array([row_of[v] for v in np.asarray(part["id"])[idx].tolist()], dtype=np.int64)
        images = dataset.read(rows) if rows.size else np.empty((0, *dataset.shape[1:]), np.float32)
        name = f"{kind}s_{split}"
        what = "non-lenses scored highest" if kind == "false_positive" else "lenses scored lowest"
        files[name] = plot_gallery(list(images), gallery_titles(catalog[rows], prob[idx]),
                                   Path(out_dir) / f"gallery_{name}.png",
                                   title=f"{len(idx)} worst {kind.replace('_', ' ')}s ({split}, threshold "
                                         f"{threshold:.3g}): {what}")
    return files
