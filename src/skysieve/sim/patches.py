"""Several independent sky patches: their layout, seeds, simulation and directory layout.

One patch of 7.5° × 7.5° holds ~300 clusters above DeepSZ's cut; a test or
validation split cut from it holds a few dozen, too few to tell methods apart.
``simulate_sz.patches`` asks for ``count`` patches, each a full sky
(:func:`skysieve.sim.simulate_sky`: CMB, halos, tSZ, kSZ, sources, dust,
noise) with its own maps and truth, so that whole patches can be held out.

**Seeds.** Patch k is simulated from

.. math:: s_k = \\mathrm{SeedSequence}(\\mathtt{seed},\\ \\mathrm{spawn\\_key} = (k,)),

the k-th child of ``SeedSequence(simulate_sz.seed)`` (what ``.spawn(n)[k]``
returns for any n > k).  Its component streams are spawned from
:math:`s_k` as in :func:`~skysieve.sim.simulate_sky`, so adding patch n
changes no patch k < n: their maps and truth stay bit-identical.

**Geometry.** Patch k is ``simulate_sz.patch`` moved to RA
``ra_center_deg + k · ra_step_deg`` (mod 360°), same Dec and size, so the
patches never overlap and their catalogs never share a position.

**Layout on disk.** ``<sky>/patch_<kk>/`` holds ``sky_<band>.fits``,
``halos.fits`` and ``sources.fits`` (:func:`~skysieve.sim.write_sky`) and
``<sky>/patches.json`` lists the patches (name, index, centre, seed rule).
A directory with ``sky_<band>.fits`` at its top (one patch, the layout
before several patches) is still read, as a single patch.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from skysieve._io import atomic_path
from skysieve.config import CosmologyParams, PatchParams, SimulateSzParams
from skysieve.errors import DataError
from skysieve.sim.sky import simulate_sky, write_sky

__all__ = ["MANIFEST", "SkyPatch", "patch_layout", "patch_name", "patch_seed", "read_patch_dirs",
           "simulate_patches"]

#: The manifest of a multi-patch sky directory.
MANIFEST = "patches.json"


@dataclass(frozen=True)
class SkyPatch:
    """One patch of a multi-patch sky: its index, directory name and geometry.

    Attributes
    ----------
    index : int
        k, the patch's spawn key under the run seed.
    name : str
        Directory name, ``patch_<kk>``.
    patch : PatchParams
        Centre, size and pixel of this patch.
    """

    index: int
    name: str
    patch: PatchParams


def patch_name(index: int) -> str:
    """The directory name of patch ``index``: ``patch_00``, ``patch_01``, …"""
    return f"patch_{index:02d}"


def patch_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The root seed of patch ``index``: the ``index``-th child of ``SeedSequence(seed)``.

    Equal to ``SeedSequence(seed).spawn(n)[index]`` for every n > index, and
    independent of how many patches there are.
    """
    if index < 0:
        raise ValueError(f"patch index must be >= 0 (got {index})")
    return np.random.SeedSequence(seed, spawn_key=(index,))


def patch_layout(cfg: SimulateSzParams) -> tuple[SkyPatch, ...]:
    """The ``cfg.patches.count`` patches: ``cfg.patch`` stepped by ``ra_step_deg`` in RA."""
    base = cfg.patch
    return tuple(
        SkyPatch(k, patch_name(k), base.model_copy(
            update={"ra_center_deg": float((base.ra_center_deg + k * cfg.patches.ra_step_deg) % 360.0)}))
        for k in range(cfg.patches.count))


def simulate_patches(cfg: SimulateSzParams, cosmo: CosmologyParams, *, cl: Table | None, out_dir: str | Path,
                     on_patch: Callable[[SkyPatch, object], None] | None = None) -> list[dict]:
    """Simulate and write every patch of ``cfg`` under ``out_dir``, one patch in memory at a time.

    Parameters
    ----------
    cfg : SimulateSzParams
    cosmo : CosmologyParams
    cl : astropy.table.Table or None
        Lensed CMB spectrum (see :func:`~skysieve.sim.simulate_sky`).
    out_dir : str or Path
        Written atomically: the directory appears only when every patch and
        the manifest are complete.
    on_patch : callable, optional
        Called with each patch and its :class:`~skysieve.sim.SimulatedSky`
        after it is written (progress messages).

    Returns
    -------
    list of dict
        The manifest entries: ``name``, ``index``, ``ra_center_deg``,
        ``dec_center_deg``, ``n_halos``, ``n_sources``.
    """
    entries = []
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for sp in patch_layout(cfg):
            sky = simulate_sky(cfg.model_copy(update={"patch": sp.patch}), cosmo, cl=cl,
                               seed=patch_seed(cfg.seed, sp.index))
            write_sky(sky, tmp / sp.name)
            entries.append({"name": sp.name, "index": sp.index, "ra_center_deg": sp.patch.ra_center_deg,
                            "dec_center_deg": sp.patch.dec_center_deg, "n_halos": len(sky.halos),
                            "n_sources": len(sky.sources)})
            if on_patch is not None:
                on_patch(sp, sky)
        manifest = {"seed": cfg.seed, "seed_rule": "patch k: numpy SeedSequence(seed, spawn_key=(k,))",
                    "patches": entries}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return entries


def read_patch_dirs(sky_dir: str | Path, *, rerun: str = "the simulation that wrote it") -> list[tuple[int, str, Path]]:
    """The patches of a sky directory, in index order: ``(index, name, directory)``.

    A directory with ``sky_<band>.fits`` at its top is one patch (index 0,
    named after the directory); otherwise ``patches.json`` lists them.

    Raises
    ------
    DataError
        No maps and no manifest, an unreadable manifest, or a listed patch
        directory that is missing; the message names the path and the fix
        (``rerun``: the command that writes the sky, given by the search).
    """
    sky_dir = Path(sky_dir)
    if any(sky_dir.glob("sky_*.fits")):
        return [(0, sky_dir.name, sky_dir)]
    manifest = sky_dir / MANIFEST
    if not manifest.is_file():
        raise DataError(f"{sky_dir}: neither sky_<band>.fits maps nor {MANIFEST}; "
                        f"run `{rerun}` first")
    try:
        entries = json.loads(manifest.read_text())["patches"]
        patches = sorted((int(e["index"]), str(e["name"])) for e in entries)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{manifest}: not a patch manifest ({exc}); rerun `{rerun}`") \
            from exc
    if not patches:
        raise DataError(f"{manifest}: lists no patch; rerun `{rerun}`")
    out = []
    for index, name in patches:
        path = sky_dir / name
        if not any(path.glob("sky_*.fits")):
            raise DataError(f"{path}: patch {name} of {manifest} has no sky_<band>.fits maps; "
                            f"rerun `{rerun}`")
        out.append((index, name, path))
    return out
