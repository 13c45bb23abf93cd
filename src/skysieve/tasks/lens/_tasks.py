"""Tasks of the lens simulation: the plan (what every system is) and one system from sampling to noisy cutouts.

A *task* is one galaxy system, giving one cutout, or a lens and its twin.
Every task draws from its own ``numpy.random.SeedSequence`` spawned from one
seed, so the cutouts are the same whatever the number of worker processes
(:func:`skysieve.tasks.lens.sim.iter_lens_cutouts` runs them).
"""

import math
from dataclasses import dataclass

import numpy as np

from skysieve.config import CosmologyParams
from skysieve.tasks.lens._render import add_noise, arc_snr
from skysieve.tasks.lens._scene import RenderedSystem, render_lens_system
from skysieve.tasks.lens._systems import sample_lens_system
from skysieve.tasks.lens.params import SimulateLensParams

__all__ = ["LensTask", "plan_lens_tasks", "run_lens_task"]


@dataclass(frozen=True)
class LensTask:
    """One independent unit of work: a system of ``kind``, with or without a twin.

    Attributes
    ----------
    index : int
        Task number, also the ``group`` of its cutouts.
    kind : str
        One of :data:`KINDS`.
    twin : bool
        For ``lens``: also emit the same scene without the source (a negative).
    seed : numpy.random.SeedSequence
    """

    index: int
    kind: str
    twin: bool
    seed: np.random.SeedSequence

    @property
    def n_cutouts(self) -> int:
        return 2 if self.twin else 1


def _largest_remainder(total: int, fractions: list[float]) -> list[int]:
    raw = [total * f for f in fractions]
    counts = [int(math.floor(r)) for r in raw]
    for k in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[k] += 1
    return counts


def plan_lens_tasks(cfg: SimulateLensParams, *, seed: int | np.random.SeedSequence) -> list[LensTask]:
    """Decide what every task simulates, in output order.

    ``n_pos = round(n r / (1 + r))`` positives for ``r`` =
    ``positive_to_negative``; the negatives split by the fractions in
    ``cfg.negatives``; ``twin_fraction`` of the plain-member negatives are
    twins of randomly chosen positives.  Tasks are shuffled, then each gets its
    own child seed.

    Returns
    -------
    list of LensTask
        Their ``n_cutouts`` add up to ``cfg.n_cutouts``.
    """
    n = cfg.n_cutouts
    ratio = cfg.positive_to_negative
    n_pos = min(max(int(round(n * ratio / (1.0 + ratio))), 1), n)
    neg = cfg.negatives
    n_member, n_blue, n_spiral, n_edge = _largest_remainder(n - n_pos, [neg.member, neg.blue_neighbour, neg.spiral,
                                                                        neg.edge_on])
    n_twin = min(int(round(neg.twin_fraction * n_member)), n_pos)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    plan_seed, task_root = root.spawn(2)
    rng = np.random.default_rng(plan_seed)
    twins = np.zeros(n_pos, dtype=bool)
    twins[rng.choice(n_pos, size=n_twin, replace=False)] = True
    kinds = (["lens"] * n_pos + ["member"] * (n_member - n_twin) + ["blue_neighbour"] * n_blue
             + ["spiral"] * n_spiral + ["edge_on"] * n_edge)
    twin_flags = list(twins) + [False] * (len(kinds) - n_pos)
    order = rng.permutation(len(kinds))
    seeds = task_root.spawn(len(kinds))
    return [LensTask(index=i, kind=kinds[k], twin=bool(twin_flags[k]), seed=seeds[i]) for i, k in enumerate(order)]


def _depth(cfg: SimulateLensParams, cluster: str) -> float:
    return next((c.exposure_scale for c in cfg.clusters if c.name == cluster), 1.0)


def _noisy(rng: np.random.Generator, image: np.ndarray, cfg: SimulateLensParams, *, depth: float) -> np.ndarray:
    if not cfg.noise:
        return image.copy()
    return np.stack([add_noise(rng, image[k], band, cfg.pixel_arcsec, exposure_scale=depth)
                     for k, band in enumerate(cfg.bands)])


def _arc_mags(source: np.ndarray, cfg: SimulateLensParams) -> np.ndarray:
    flux = source.sum(axis=(1, 2))
    zp = np.array([b.zero_point_ab for b in cfg.bands])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, -2.5 * np.log10(np.maximum(flux, 1e-300)) + zp, 99.0)


def run_lens_task(task: LensTask, cfg: SimulateLensParams, cosmology: CosmologyParams) -> list[tuple[np.ndarray, dict]]:
    """Simulate one task: sample, render, add noise.

    Returns
    -------
    list of (image, truth)
        ``image`` of shape (size_px, size_px, n_bands), float32, e⁻/s; one
        entry, or two for a lens with a twin (the lens first).  ``truth`` has
        ``label``, ``group`` (= ``task.index``), ``ra``, ``dec`` and the
        columns of :func:`lens_truth_columns` (missing ones are filled later).
    """
    system_seed, noise_seed, twin_seed = task.seed.spawn(3)
    system = sample_lens_system(cfg, cosmology, kind=task.kind, seed=np.random.default_rng(system_seed))
    rendered = render_lens_system(system, cfg)
    truth = dict(system.truth, group=task.index, label=int(task.kind == "lens"))
    depth = _depth(cfg, truth["cluster"])
    if rendered.source is None:
        scene = rendered.scene
        if rendered.feature is not None:
            floor = cfg.negatives.edge_on_discs.min_snr if task.kind == "edge_on" else 0.0
            scene, truth["feature_snr"] = _visible_feature(rendered, cfg, depth=depth, min_snr=floor)
        image = _noisy(np.random.default_rng(noise_seed), scene, cfg, depth=depth)
        return [(np.moveaxis(image, 0, -1).astype(np.float32), truth)]
    truth["magnification"] = rendered.magnification
    for band, m in zip(cfg.bands, _arc_mags(rendered.source, cfg)):
        truth[f"arc_mag_{band.name.lower()}"] = float(m)
    truth["arc_snr"] = arc_snr(rendered.source, rendered.scene, cfg.bands, pixel_arcsec=cfg.pixel_arcsec,
                               exposure_scale=depth)
    image = _noisy(np.random.default_rng(noise_seed), rendered.scene + rendered.source, cfg, depth=depth)
    out = [(np.moveaxis(image, 0, -1).astype(np.float32), truth)]
    if task.twin and truth["arc_snr"] >= cfg.negatives.twin_min_arc_snr:
        twin = _noisy(np.random.default_rng(twin_seed), rendered.scene, cfg, depth=depth)
        twin_truth = _scene_truth(system.truth, cfg) | {"kind": "twin", "group": task.index, "label": 0}
        out.append((np.moveaxis(twin, 0, -1).astype(np.float32), twin_truth))
    elif task.twin:  # an invisible arc: the twin would be the lens up to noise, so a plain member stands in
        member_seed, member_noise = twin_seed.spawn(2)
        member = sample_lens_system(cfg, cosmology, kind="member", seed=np.random.default_rng(member_seed))
        member_truth = dict(member.truth, group=task.index, label=0)
        image = _noisy(np.random.default_rng(member_noise), render_lens_system(member, cfg).scene, cfg,
                       depth=_depth(cfg, member_truth["cluster"]))
        out.append((np.moveaxis(image, 0, -1).astype(np.float32), member_truth))
    return out


def _visible_feature(rendered: RenderedSystem, cfg: SimulateLensParams, *, depth: float, min_snr: float
                     ) -> tuple[np.ndarray, float]:
    """The scene with its look-alike feature brightened to ``min_snr`` if fainter, and the feature's SNR.

    The SNR is :func:`arc_snr` of the feature against the rest of the scene;
    it grows a little slower than the feature's flux (the feature's own
    Poisson noise), so the flux is rescaled by ``min_snr / SNR`` until the
    SNR is within 0.5 % of ``min_snr`` (a few rounds).
    """
    rest = rendered.scene - rendered.feature
    kw = {"pixel_arcsec": cfg.pixel_arcsec, "exposure_scale": depth}
    feature = rendered.feature
    snr = arc_snr(feature, rest, cfg.bands, **kw)
    if not 0 < snr < min_snr:
        return rendered.scene, snr
    for _ in range(8):
        feature = feature * (min_snr / snr)
        snr = arc_snr(feature, rest, cfg.bands, **kw)
        if snr >= 0.995 * min_snr:
            break
    return rest + feature, snr


def _scene_truth(truth: dict, cfg: SimulateLensParams) -> dict:
    """The part of a lens's truth that describes its scene (for the twin without the source)."""
    keys = {"cluster", "z_lens", "cluster_offset_arcsec", "ra", "dec", "lens_colour", "lens_re_arcsec",
            "lens_n_sersic", "lens_q", "n_neighbours"} | {f"lens_mag_{b.name.lower()}" for b in cfg.bands}
    return {k: v for k, v in truth.items() if k in keys} | {"n_images": 0, "n_images_in_cutout": 0}
