"""Benchmark: the members simulator — cutouts per second per core, against a bare galsim draw.

What is timed (one process, one core, best of ``--repeat``):

* (a) ``render_source`` for ``--n`` sources of the default ``simulate_members``
  (12 bands, bulge + disk + knots, neighbours, ICL, noise), from specs built
  beforehand (:func:`skysieve.tasks.members.sim.build_specs`, timed apart as
  the per-source population and SED cost);
* (b) the baseline: for the same sources, one bare galsim draw per band of an
  untruncated de Vaucouleurs (Sérsic n = 4) profile convolved with the band's
  Moffat PSF into a 64×64 stamp, galsim's default accuracy — what a direct
  galsim renderer does before the truncation and GSParams of ``_render``.

Times are CPU time of this process (``time.process_time``, single-threaded
code), so the per-core rates hold on a machine shared with other jobs.

Reports cutouts per second per core for (a), (b) and the ratio (a)/(b); the
12-band colour table (sedpy integrations, built once per simulation) apart.

Run: .venv/bin/python benchmarks/bench_members_sim.py [--n 60] [--repeat 3]
"""

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="sources rendered per repeat")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import galsim

    from skysieve.config import CosmologyParams
    from skysieve.tasks.members._population import draw_population
    from skysieve.tasks.members._render import render_source
    from skysieve.tasks.members.params import SimulateMembersParams
    from skysieve.tasks.members.sim import build_specs, colour_grid

    cfg = SimulateMembersParams()
    t0 = time.perf_counter()
    grid = colour_grid(cfg)
    t_grid = time.perf_counter() - t0
    truth = draw_population(cfg, CosmologyParams(), grid, rng=np.random.default_rng(0))[: args.n]
    t0 = time.perf_counter()
    specs, _ = build_specs(truth, cfg, grid, seed=1)
    t_specs = (time.perf_counter() - t0) / len(specs)
    for s in specs[:3]:  # warm galsim's Sérsic tables
        render_source(s, cfg, seed=s.id)
    best_a = best_b = np.inf
    psfs = [galsim.Moffat(beta=b.moffat_beta, fwhm=b.psf_fwhm_arcsec) for b in cfg.bands]
    for _ in range(args.repeat):
        t0 = time.process_time()
        for s in specs:
            render_source(s, cfg, seed=s.id)
        best_a = min(best_a, time.process_time() - t0)
        t0 = time.process_time()
        for row in truth:
            gal = galsim.Sersic(n=4, half_light_radius=float(row["re_arcsec"]), flux=1.0)
            for psf in psfs:
                galsim.Convolve(gal, psf).drawImage(nx=cfg.size_px, ny=cfg.size_px, scale=cfg.pixel_scale_arcsec)
        best_b = min(best_b, time.process_time() - t0)
    n = len(specs)
    result = {"sources": n, "bands": len(cfg.bands), "size_px": cfg.size_px,
              "simulate_cutouts_per_s_per_core": round(n / best_a, 2),
              "bare_galsim_cutouts_per_s_per_core": round(n / best_b, 2),
              "ratio_to_bare_galsim": round(best_b / best_a, 3),
              "specs_ms_per_source": round(1e3 * t_specs, 2), "colour_table_s": round(t_grid, 2)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
