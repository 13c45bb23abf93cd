"""Two simulated surveys for transfer learning: a CANDELS-like source and a CLASH-like target.

Source: ``source.n`` galaxies in one band (F160W, 0.06″/px, deep), with
Poisson(``source.neighbours_mean``) field neighbours per stamp.  Target:
``target.n_galaxies`` cluster galaxies, each imaged in all 16 CLASH bands
(band-dependent PSF, pixel scale and depth; colours by class so spheroids
fade in the UV), with Poisson-many neighbours in each stamp; votes exist for
``labelled_per_band`` images per band, the rest are the unlabelled images the
catalog classifies.  Every image is drawn with galsim
(:mod:`~skysieve.tasks.morphology._render`), cut at ``petrosian_factor``
Petrosian radii, resampled to ``stamp_px``² pixels, scaled to unit robust
peak, and labelled by the simulated annotators
(:mod:`~skysieve.tasks.morphology._votes`).

Both surveys are written as cutout datasets (``cutouts.h5`` + ``catalog.fits``,
:mod:`skysieve.data.dataset`): one channel, catalog columns ``id, ra, dec,
label`` (the most-voted class, −1 if unlabelled), ``split``
(train/val/test/unlabelled), ``group`` (the galaxy), ``band``, the vote
fractions ``p_<class>``, their expectations ``e_<class>`` and the truth.
"""

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from astropy.table import Table

from skysieve._cpus import available_cpus
from skysieve.tasks.morphology._render import Galaxy, cut_stamp, draw_galaxy, petrosian_radius_px, sky_sigma
from skysieve.tasks.morphology._votes import annotator_noise_floor, vote_fractions, vote_probabilities
from skysieve.tasks.morphology.params import CLASSES, BandParams, SimulateMorphologyParams

__all__ = ["COLOUR_SLOPE", "SurveyImages", "band_magnitude", "native_size_px", "render_all", "render_image", "simulate_source", "simulate_target",
           "write_survey"]

#: Colour slope by class, mag per µm bluewards of F160W (m_band = m_H + slope · (1.54 − λ)): red spheroids.
COLOUR_SLOPE = (3.0, 1.4, 0.5, 1.5, 1.2)


class SurveyImages:
    """Stamps (n, stamp_px, stamp_px) and their catalog table, as simulated."""

    def __init__(self, stamps: np.ndarray, table: Table, votes: np.ndarray):
        self.stamps, self.table, self.votes = stamps, table, votes


def _draw_galaxy_truth(rng: np.random.Generator, cfg: SimulateMorphologyParams, klass: int, mag: float) -> Galaxy:
    lo, hi = cfg.re_range_arcsec
    return Galaxy(klass=int(klass), mag=float(mag), re_arcsec=float(np.exp(rng.uniform(np.log(lo), np.log(hi)))),
                  q=float(rng.uniform(0.6, 1.0)), beta_deg=float(rng.uniform(0, 180)),
                  inclination_deg=float(np.degrees(np.arccos(rng.uniform(0, 1)))), arms=bool(rng.random() < 0.8),
                  bar=bool(rng.random() < 0.33), seed=int(rng.integers(1, 2**30)))


def band_magnitude(g: Galaxy, band: BandParams) -> float:
    """The galaxy's AB magnitude in ``band``: m_H + slope(class) · (1.54 µm − λ)."""
    return g.mag + COLOUR_SLOPE[g.klass] * (1.54 - band.wavelength_um)


def native_size_px(g: Galaxy, band: BandParams) -> int:
    """Side (odd, 33 … 257 px) of the native image ``g`` is drawn on in ``band``: 11 r_e + 4 PSF FWHM."""
    return int(np.clip(np.ceil((11 * g.re_arcsec + 4 * band.psf_fwhm_arcsec) / band.pixel_scale_arcsec),
                       32, 256)) // 2 * 2 + 1


def render_image(g: Galaxy, band: BandParams, cfg: SimulateMorphologyParams, *, rng: np.random.Generator,
                 neighbours_mean: float = 0.0) -> dict:
    """Draw ``g`` in ``band``, measure r_P, cut and resample the stamp; return the stamp and its measurements.

    Returns
    -------
    dict
        ``stamp`` (stamp_px², unit robust peak), ``r_petro_arcsec``, ``snr``
        (S/N within r_P), ``scale`` (counts per stamp unit), ``n_neighbours``.
    """
    mag = band_magnitude(g, band)
    flux = 10 ** (-0.4 * (mag - 25.0))
    sigma = sky_sigma(band.depth_mag, band.pixel_scale_arcsec)
    pix = band.pixel_scale_arcsec
    size = native_size_px(g, band)
    neighbours = []
    for _ in range(rng.poisson(neighbours_mean)):
        ng = _draw_galaxy_truth(rng, cfg, int(rng.choice([0, 1, 2], p=[0.6, 0.3, 0.1])), g.mag + rng.uniform(-1, 2))
        r = rng.uniform(3, 6) * g.re_arcsec
        ang = rng.uniform(0, 2 * np.pi)
        nmag = ng.mag + COLOUR_SLOPE[ng.klass] * (1.54 - band.wavelength_um)
        neighbours.append((ng,
                           10 ** (-0.4 * (nmag - 25.0)), r * np.cos(ang), r * np.sin(ang)))
    noisy, clean = draw_galaxy(g, flux=flux, psf_fwhm_arcsec=band.psf_fwhm_arcsec, pixel_scale_arcsec=pix,
                               sigma=sigma, size_px=size, neighbours=neighbours, rng=rng,
                               folding_threshold=cfg.folding_threshold)
    r_p = petrosian_radius_px(noisy, eta=cfg.petrosian_eta, r_min_px=band.psf_fwhm_arcsec / pix)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    inside = xx**2 + yy**2 <= r_p**2
    snr = float(clean[inside].sum() / (sigma * np.sqrt(inside.sum())))
    stamp = cut_stamp(noisy, side_px=cfg.petrosian_factor * r_p, stamp_px=cfg.stamp_px)
    centre = stamp[cfg.stamp_px // 4: 3 * cfg.stamp_px // 4, cfg.stamp_px // 4: 3 * cfg.stamp_px // 4]
    scale = float(max(np.percentile(centre, 99.0), 3 * sigma))
    return {"stamp": stamp / scale, "r_petro_arcsec": r_p * pix, "snr": snr, "scale": scale,
            "n_neighbours": len(neighbours), "mag_band": mag}


def _render_job(job: tuple) -> dict:
    g, band, cfg, seed, neighbours_mean = job
    return render_image(g, band, cfg, rng=np.random.default_rng(seed), neighbours_mean=neighbours_mean)


def render_all(jobs: list[tuple], cfg: SimulateMorphologyParams, *, progress: Callable, desc: str) -> list[dict]:
    """:func:`render_image` for every ``(galaxy, band, cfg, seed, neighbours_mean)`` job, ``cfg.workers`` processes.

    Each image draws its noise and neighbours from its own generator
    (``seed`` = [survey seed, survey, image index]), so the stamps are the
    same for any number of workers; galsim is single-threaded, so the
    processes scale with the cores.
    """
    workers = cfg.workers or available_cpus()
    if workers == 1 or len(jobs) < 2 * workers:
        return [_render_job(j) for j in progress(jobs, desc=desc)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(progress(pool.map(_render_job, jobs, chunksize=16), desc=desc, total=len(jobs)))


def _annotate(rng: np.random.Generator, cfg: SimulateMorphologyParams, klass, snr, size_ratio, inc):
    a = cfg.annotators
    skill = rng.uniform(*a.skill_range, size=a.n)
    probs = vote_probabilities(np.asarray(klass), snr=np.asarray(snr), size_ratio=np.asarray(size_ratio),
                               inclination_deg=np.asarray(inc), skill=skill, base_error=a.base_error,
                               snr_half=a.snr_half, size_psf_half=a.size_psf_half, edge_on_weight=a.edge_on_weight)
    votes, fractions = vote_fractions(probs, rng=rng)
    return votes, fractions, probs.mean(axis=1)


def _splits(rng: np.random.Generator, groups: np.ndarray, cfg: SimulateMorphologyParams) -> np.ndarray:
    """train/val/test by group (a galaxy never straddles two splits)."""
    unique = rng.permutation(np.unique(groups))
    n_test, n_val = int(round(cfg.test_frac * len(unique))), int(round(cfg.val_frac * len(unique)))
    where = {g: "test" for g in unique[:n_test]} | {g: "val" for g in unique[n_test: n_test + n_val]}
    return np.array([where.get(g, "train") for g in groups], dtype="U10")


def _table(rows: list[dict], truth: list[Galaxy], bands: list[str], groups: np.ndarray, fractions: np.ndarray,
           expected: np.ndarray, labelled: np.ndarray, split: np.ndarray, survey: str) -> Table:
    n = len(rows)
    label = np.where(labelled, np.argmax(np.nan_to_num(fractions, nan=-1), axis=1), -1)
    t = Table({"id": np.arange(n, dtype=np.int64), "ra": 150.0 + groups * 1e-3, "dec": 2.0 + 0 * groups,
               "label": label.astype(np.int16), "split": split, "group": groups.astype(np.int32),
               "band": np.array(bands, dtype="U8"), "labelled": labelled})
    for j, c in enumerate(CLASSES):
        t[f"p_{c}"] = fractions[:, j].astype(np.float64)
    for j, c in enumerate(CLASSES):
        t[f"e_{c}"] = expected[:, j].astype(np.float64)
    t["true_class"] = np.array([g.klass for g in truth], dtype=np.int16)
    t["mag_h"] = [g.mag for g in truth]
    t["re_arcsec"] = [g.re_arcsec for g in truth]
    t["inclination_deg"] = [g.inclination_deg for g in truth]
    for key in ("r_petro_arcsec", "snr", "scale", "n_neighbours", "mag_band"):
        t[key] = [r[key] for r in rows]
    t.meta.update({"SURVEY": survey, "CLASSES": ",".join(CLASSES), "EXTNAME": "CATALOG"})
    return t


def simulate_source(cfg: SimulateMorphologyParams, *, seed: int,
                    progress: Callable = lambda it, **_: it) -> SurveyImages:
    """The source survey: ``cfg.source.n`` one-band images (field neighbours too) with votes, split by galaxy."""
    rng = np.random.default_rng([seed, 0])
    s = cfg.source
    klass = rng.choice(len(CLASSES), size=s.n, p=cfg.class_fractions)
    mags = rng.uniform(*s.mag_range, size=s.n)
    truth = [_draw_galaxy_truth(rng, cfg, k, m) for k, m in zip(klass, mags)]
    rows = render_all([(g, s.band, cfg, [seed, 0, i], s.neighbours_mean) for i, g in enumerate(truth)], cfg,
                      progress=progress, desc="source stamps")
    votes, fractions, expected = _annotate(rng, cfg, klass, [r["snr"] for r in rows],
                                           [g.re_arcsec / s.band.psf_fwhm_arcsec for g in truth],
                                           [g.inclination_deg for g in truth])
    groups = np.arange(s.n)
    table = _table(rows, truth, [s.band.name] * s.n, groups, fractions, expected, np.ones(s.n, bool),
                   _splits(rng, groups, cfg), "source")
    return SurveyImages(np.stack([r["stamp"] for r in rows]), table, votes)


def simulate_target(cfg: SimulateMorphologyParams, *, seed: int,
                    progress: Callable = lambda it, **_: it) -> SurveyImages:
    """The target survey: every galaxy in every band; ``labelled_per_band`` images per band carry votes."""
    rng = np.random.default_rng([seed, 1])
    t = cfg.target
    klass = rng.choice(len(CLASSES), size=t.n_galaxies, p=cfg.class_fractions)
    mags = rng.uniform(*t.mag_range, size=t.n_galaxies)
    galaxies = [_draw_galaxy_truth(rng, cfg, k, m) for k, m in zip(klass, mags)]
    pairs = [(gi, band) for gi in range(t.n_galaxies) for band in t.bands]
    jobs = [(galaxies[gi], band, cfg, [seed, 1, i], t.neighbours_mean) for i, (gi, band) in enumerate(pairs)]
    rows = render_all(jobs, cfg, progress=progress, desc="target stamps")
    truth = [galaxies[gi] for gi, _ in pairs]
    size_ratio = [galaxies[gi].re_arcsec / band.psf_fwhm_arcsec for gi, band in pairs]
    votes, fractions, expected = _annotate(rng, cfg, [g.klass for g in truth], [r["snr"] for r in rows],
                                           size_ratio, [g.inclination_deg for g in truth])
    groups = np.array([gi for gi, _ in pairs])
    bands = [band.name for _, band in pairs]
    labelled = np.zeros(len(pairs), bool)
    for b in t.bands:
        idx = np.flatnonzero(np.array(bands) == b.name)
        labelled[rng.choice(idx, size=min(t.labelled_per_band, idx.size), replace=False)] = True
    split = np.where(labelled, _splits(rng, groups, cfg), "unlabelled")
    fractions = np.where(labelled[:, None], fractions, np.nan)
    table = _table(rows, truth, bands, groups, fractions, expected, labelled, split, "target")
    return SurveyImages(np.stack([r["stamp"] for r in rows]), table, votes[labelled])


def write_survey(images: SurveyImages, out: Path, *, channel: str, pixel_note: str) -> dict[str, float]:
    """Write one survey as a cutout dataset in ``out`` (a new directory); return the annotators' noise floor."""
    import h5py

    from skysieve.data.dataset import IMAGES_KEY

    out.mkdir(parents=True)
    with h5py.File(out / "cutouts.h5", "w") as h5:
        ds = h5.create_dataset(IMAGES_KEY, data=images.stamps[..., None].astype(np.float32),
                               chunks=(1, *images.stamps.shape[1:], 1))
        ds.attrs["channels"] = [channel]
        ds.attrs["unit"] = "robust peak (99th percentile of the central half) = 1"
        ds.attrs["pixel_note"] = pixel_note
        h5.create_dataset("votes", data=images.votes.astype(np.int8))
    floor = annotator_noise_floor(images.votes, n_classes=len(CLASSES))
    images.table.meta.update({"FLOOR1R": floor["one_vs_rest"], "FLOOR1A": floor["one_vs_all"]})
    images.table.write(out / "catalog.fits")
    return floor
