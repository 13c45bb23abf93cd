"""Cutouts of a sky of several patches, split by patch.

Each patch is cut as one map (:func:`~skysieve.tasks.sz.cutouts.plan_cutouts`);
with ``cutouts_sz.split.by: patch`` a whole patch is test, validation or
training (the first ``test_patches`` patches in index order are test, the
next ``val_patches`` validation, the rest training), so no cluster, CMB
fluctuation or noise realisation is shared between splits.  Rows are laid out
patch after patch and carry

* ``patch``: the patch name (``patch_00`` …);
* ``id = k · ID_STRIDE + (iy · nx + ix)`` and ``group = k · ID_STRIDE + tile``
  for patch k, unique over the sky; the within-patch tile groups
  (``group_tile_deg``) stay the k-fold groups of the training patches.

**Training negatives** can be subsampled (``train_negative_fraction`` f < 1):
in patch k each training negative is kept iff u < f, with u drawn in row
order from ``default_rng(SeedSequence(cutouts_sz.seed, spawn_key=(k,)))``, so
the subsample of one patch does not depend on the others.  Validation and
test patches keep every cutout: their figures are unbiased.
"""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from skysieve.data.maps import SkyMaps
from skysieve.errors import ConfigError, DataError
from skysieve.tasks.sz.cutouts import plan_cutouts
from skysieve.tasks.sz.params import CutoutsSzParams, SplitParams

__all__ = ["ID_STRIDE", "patch_loaders", "patch_splits", "plan_sky_cutouts"]

#: Cutout ids and groups of patch k start at k × ID_STRIDE.
ID_STRIDE = 10_000_000


def patch_splits(indices: Sequence[int], split: SplitParams, *, sky: str | Path = "the sky") -> dict[int, str | None]:
    """The split of each patch index (``None``: cut by RA within the patch, ``split.by: ra``).

    Raises
    ------
    ConfigError
        ``by: patch`` with fewer patches than test + validation + one training patch.
    """
    order = sorted(indices)
    if split.by == "ra":
        return dict.fromkeys(order)
    need = split.test_patches + split.val_patches + 1
    if len(order) < need:
        raise ConfigError(
            f"cutouts_sz.split.by = 'patch' needs at least {need} sky patches ({split.test_patches} test + "
            f"{split.val_patches} validation + 1 training); {sky} has {len(order)}: raise "
            f"simulate_sz.patches.count to {need} or more, or set cutouts_sz.split.by: ra")
    names = ["test"] * split.test_patches + ["val"] * split.val_patches
    return {k: names[i] if i < len(names) else "train" for i, k in enumerate(order)}


def patch_loaders(patches: Sequence[tuple[int, str, Path]], read: Callable[[Path], SkyMaps]) -> dict:
    """``{name: loader}`` for :func:`~skysieve.tasks.sz.cutouts.write_cutouts`, reading each patch when called."""
    return {name: (lambda path=path: read(path)) for _, name, path in patches}


def plan_sky_cutouts(patches: Sequence[tuple[int, str]], cfg: CutoutsSzParams, *,
                     load: Callable[[str], tuple[SkyMaps, Table]], sky: str | Path = "the sky") -> Table:
    """Lay out, label and split the cutouts of every patch, one patch's maps in memory at a time.

    Parameters
    ----------
    patches : sequence of (index, name)
        Each patch's index k (its seed's spawn key) and name.
    cfg : CutoutsSzParams
    load : callable
        ``load(name)`` returns the patch's band maps (only their shape, WCS and
        pixel are used) and its halo truth catalog.
    sky : str or Path
        Named in error messages.

    Returns
    -------
    Table
        The rows of :func:`~skysieve.tasks.sz.cutouts.plan_cutouts`, patch after
        patch in index order, with ``patch``, sky-unique ``id`` and ``group``, training
        negatives subsampled; ``meta["PATCHES"]`` lists ``name:split`` pairs.
    """
    splits = patch_splits([k for k, *_ in patches], cfg.split, sky=sky)
    tables = []
    patches = sorted(patches)
    for index, name in patches:
        maps, halos = load(name)
        table = plan_cutouts(maps.data.shape[1:], maps.wcs, maps.pixel_arcmin, halos, cfg, split=splits[index])
        if len(table) and int(np.max(table["id"])) >= ID_STRIDE:
            raise DataError(f"{sky}/{name}: {int(np.max(table['id'])) + 1} cutout positions exceed the "
                            f"{ID_STRIDE} a patch may hold; use smaller patches (simulate_sz.patch)")
        if cfg.train_negative_fraction < 1:
            u = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(index,))).random(len(table))
            split = np.asarray(table["split"], dtype=str)
            table = table[~((split == "train") & (np.asarray(table["label"]) == 0)
                            & (u >= cfg.train_negative_fraction))]
        table["id"] += index * ID_STRIDE
        table["group"] += index * ID_STRIDE
        table.add_column(np.full(len(table), name, dtype=f"U{max(len(name), 1)}"), name="patch", index=1)
        tables.append(table)
    meta = dict(tables[0].meta)
    catalog = vstack(tables, metadata_conflicts="silent")
    catalog.meta.update(meta)
    catalog.meta["PATCHES"] = ",".join(f"{name}:{splits[k] or 'ra'}" for k, name in patches)
    return catalog
