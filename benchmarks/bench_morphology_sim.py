"""Benchmark: morphology stamps rendered per second per core, against a bare galsim draw.

For each survey of the default params (``simulate_morphology``), render
``--n`` galaxies one core at a time with :func:`skysieve.tasks.morphology.sim.render_image`
(galsim profile + PSF + neighbours + noise, Petrosian radius, 4 r_P cut,
bilinear resampling, robust-peak scaling) and, as the baseline measured in
the same run, ``galsim.Convolve(Sersic(n=4), Moffat).drawImage`` on the same
native stamp sizes — the part no simulator can skip.  Reports stamps/s per
core (the process is single-threaded: ``OMP_NUM_THREADS=1``) and the ratio
to the baseline.  With ``--workers K`` it also renders the target jobs
through :func:`~skysieve.tasks.morphology.sim.render_all` in one process and
in K, and reports the speed-up (the stage's ``workers: 0`` uses one per core).
With ``--psf-cache`` it renders the same images, from the same seeds, with
the band PSF's Fourier grid reused (:class:`~skysieve.tasks.morphology._render.CachedKMoffat`,
the default) and with a plain ``galsim.Moffat`` drawn anew for every image,
alternating ``--repeats`` times, checks that the stamps are bitwise the same
and reports the ratio of the best times.

Run: .venv/bin/python benchmarks/bench_morphology_sim.py [--n 200] [--params params.yaml] [--workers 2]
     [--psf-cache [--repeats 3]]
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    import galsim
    import numpy as np

    from skysieve.config import load_params
    from skysieve.tasks.morphology.sim import native_size_px, render_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="galaxies per survey")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--workers", type=int, default=0, help="also time render_all with this many processes")
    ap.add_argument("--psf-cache", action="store_true", help="only compare the cached PSF grid with a plain Moffat")
    ap.add_argument("--repeats", type=int, default=3, help="alternations of --psf-cache's two ways")
    args = ap.parse_args()
    cfg = load_params(args.params).simulate_morphology
    if args.psf_cache:
        _psf_cache(cfg, args.n, args.repeats)
        return
    rng = np.random.default_rng(0)
    for survey, bands, crowd in (("source", [cfg.source.band], cfg.source.neighbours_mean),
                                 ("target", list(cfg.target.bands), cfg.target.neighbours_mean)):
        gals = _galaxies(cfg, rng, args.n)
        pairs = [(g, bands[i % len(bands)]) for i, g in enumerate(gals)]
        t0 = time.perf_counter()
        for g, band in pairs:
            render_image(g, band, cfg, rng=rng, neighbours_mean=crowd)
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        for g, band in pairs:
            size = native_size_px(g, band)
            galsim.Convolve(galsim.Sersic(n=4, half_light_radius=g.re_arcsec),
                            galsim.Moffat(beta=3.0, fwhm=band.psf_fwhm_arcsec)).drawImage(
                nx=size, ny=size, scale=band.pixel_scale_arcsec)
        base = time.perf_counter() - t0
        print(f"{survey}: {args.n / full:7.1f} stamps/s/core (render + Petrosian cut + resample); "
              f"baseline galsim Sérsic⊗Moffat draw {args.n / base:7.1f}/s; ratio {base / full:.2f}")
    if args.workers > 1:
        from skysieve.tasks.morphology.sim import render_all

        jobs = [(g, band, cfg, [0, 1, i], cfg.target.neighbours_mean) for i, (g, band) in enumerate(pairs)]
        times = {}
        for k in (1, args.workers):
            t0 = time.perf_counter()
            render_all(jobs, cfg.model_copy(update={"workers": k}), progress=lambda it, **_: it, desc="")
            times[k] = time.perf_counter() - t0
        print(f"target through render_all: 1 process {args.n / times[1]:.1f} stamps/s, {args.workers} processes "
              f"{args.n / times[args.workers]:.1f} stamps/s; speed-up {times[1] / times[args.workers]:.2f}")


def _galaxies(cfg, rng, n: int) -> list:
    """``n`` galaxies of the params' class mix and source magnitudes, drawn as the simulator draws its truth."""
    from skysieve.tasks.morphology.params import CLASSES
    from skysieve.tasks.morphology.sim import _draw_galaxy_truth

    return [_draw_galaxy_truth(rng, cfg, int(rng.choice(len(CLASSES), p=cfg.class_fractions)),
                               float(rng.uniform(*cfg.source.mag_range))) for _ in range(n)]


def _psf_cache(cfg, n: int, repeats: int) -> None:
    import galsim
    import numpy as np

    from skysieve.tasks.morphology import _render
    from skysieve.tasks.morphology.sim import render_image

    cached = _render.CachedKMoffat
    for survey, bands, crowd in (("source", [cfg.source.band], cfg.source.neighbours_mean),
                                 ("target", list(cfg.target.bands), cfg.target.neighbours_mean)):
        gals = _galaxies(cfg, np.random.default_rng(0), n)
        best, stamps = {"cached": np.inf, "plain": np.inf}, {}
        for _ in range(repeats):
            for way, psf in (("plain", galsim.Moffat), ("cached", cached)):
                _render.CachedKMoffat = psf
                cached._grids.clear()  # every cached pass starts cold, as a stage's worker does
                try:
                    t0 = time.perf_counter()
                    stamps[way] = [render_image(g, bands[i % len(bands)], cfg, rng=np.random.default_rng(i),
                                                neighbours_mean=crowd)["stamp"] for i, g in enumerate(gals)]
                    best[way] = min(best[way], time.perf_counter() - t0)
                finally:
                    _render.CachedKMoffat = cached
        same = all(np.array_equal(a, b) for a, b in zip(stamps["cached"], stamps["plain"]))
        print(f"{survey}: plain Moffat {n / best['plain']:6.1f} stamps/s/core, cached PSF grid "
              f"{n / best['cached']:6.1f}/s; ratio {best['plain'] / best['cached']:.2f}; bitwise same: {same}")


if __name__ == "__main__":
    main()
