"""The matched filter over a sky of several patches: each patch filtered on its own, the results stacked.

Every patch is an independent flat map (its own noise spectra, its own
sources found and subtracted), so the filter is fitted patch by patch
(:func:`skysieve.mf.run_mf_sz`) on the cutout rows of that patch (the
catalog's ``patch`` column); detections and per-cutout scores are stacked in
catalog order, each detection tagged with its patch.
"""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from skysieve.config import BandParams, MfParams
from skysieve.errors import DataError
from skysieve.mf import MfResult, run_mf_sz

__all__ = ["run_mf_patches"]

#: Summary entries summed over patches; the others are per patch under ``patches``.
_COUNTS = ("n_sources_treated", "n_detections", "n_matched", "n_cutouts", "n_cutouts_detected")


def run_mf_patches(patches: Sequence[tuple[int, str, Path]], load: Callable[[Path], tuple], *, params: MfParams,
                   bands: Sequence[BandParams], cutouts: Table, central_arcmin: float,
                   cmb_cl: Table | None = None, tcmb_k: float = 2.7255) -> MfResult:
    """Run :func:`skysieve.mf.run_mf_sz` on every patch and stack the results.

    Parameters
    ----------
    patches : sequence of (index, name, directory)
        From :func:`skysieve.sim.read_patch_dirs`.
    load : callable
        ``load(directory)`` returns ``(maps, halos, sources)`` of a patch
        (``sources`` None in ``find`` mode).
    cutouts : Table
        The cutout catalog; its ``patch`` column assigns rows to patches (a
        catalog without one belongs to a single-patch sky).
    central_arcmin : float
        Side of a cutout's central region (the catalog's ``CENTRAL`` header, in pixels, wins).

    Returns
    -------
    MfResult
        Detections (with ``patch``) and scores of every cutout in catalog
        order; the summary sums the counts and keeps each patch's own under ``patches``.

    Raises
    ------
    DataError
        A catalog without ``patch`` over a sky of several patches, or cutouts
        of a patch the sky does not have.
    """
    names = [name for _, name, _ in patches]
    if "patch" in cutouts.colnames:
        patch = np.char.strip(np.asarray(cutouts["patch"], dtype=str))
    elif len(patches) == 1:
        patch = np.full(len(cutouts), names[0])
    else:
        raise DataError(f"the cutout catalog has no 'patch' column but the sky has {len(patches)} patches; "
                        "rerun `skysieve cutouts sz` on this sky")
    unknown = sorted(set(patch) - set(names))
    if unknown:
        raise DataError(f"the cutout catalog holds patches {unknown} that the sky ({names}) does not; "
                        "rerun `skysieve cutouts sz` on this sky")
    results = []
    for _, name, path in patches:
        rows = np.flatnonzero(patch == name)
        if not rows.size:
            continue
        maps, halos, sources = load(path)
        central_px = int(cutouts.meta.get("CENTRAL", round(central_arcmin / maps.pixel_arcmin)))
        r = run_mf_sz(maps, params=params, bands=bands, cutouts=cutouts[rows], central_px=central_px, halos=halos,
                      sources=sources, cmb_cl=cmb_cl, tcmb_k=tcmb_k)
        r.detections["patch"] = np.full(len(r.detections), name)
        results.append((name, rows, r))
    if not results:
        raise DataError("the cutout catalog is empty; rerun `skysieve cutouts sz`")
    order = np.concatenate([rows for _, rows, _ in results])
    if np.any(np.diff(order) <= 0):  # rows of a patch contiguous and patches in catalog order
        raise DataError("the cutout catalog's patches are not in sky order; rerun `skysieve cutouts sz`")
    summary = {k: v for k, v in results[0][2].summary.items() if k not in _COUNTS
               and k not in ("sigma_y_arcmin2", "snr_robust_std")}
    summary.update({k: int(sum(r.summary[k] for _, _, r in results)) for k in _COUNTS})
    summary["patches"] = {name: r.summary for name, _, r in results}
    return MfResult(detections=vstack([r.detections for _, _, r in results], metadata_conflicts="silent"),
                    scores=vstack([r.scores for _, _, r in results], metadata_conflicts="silent"),
                    summary=summary)
