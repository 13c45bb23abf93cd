"""Benchmark: simulated lens cutouts per second per core (64×64 px, three bands).

Target (issue 6): the default set (``simulate_lens.n_cutouts``, a few thousand
cutouts) simulates in under 10 minutes on 2 cores.  Because these machines
are shared and noisy, the rate is also given as a ratio to a baseline
measured in the same run: a bare lenstronomy ``ImageModel`` render of one
band of one lens (SIE + shear + convergence, Sérsic source and lens light,
Gaussian PSF, same grid and supersampling).

Run: .venv/bin/python benchmarks/bench_lens.py [--params params.yaml] [--n 120] [--full]
``--full`` also runs the whole default set on 2 worker processes and reports its wall time.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def baseline_render_s(cfg, *, repeats: int = 15) -> float:
    """Median seconds of one lenstronomy ImageModel render of one band."""
    from lenstronomy.Data.pixel_grid import PixelGrid
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    n, d = cfg.size_px, cfg.pixel_arcsec
    grid = PixelGrid(nx=n, ny=n, transform_pix2angle=np.eye(2) * d, ra_at_xy_0=-d * (n - 1) / 2,
                     dec_at_xy_0=-d * (n - 1) / 2)
    psf = PSF(psf_type="GAUSSIAN", fwhm=cfg.bands[-1].psf_fwhm_arcsec, pixel_size=d)
    model = ImageModel(grid, psf, lens_model_class=LensModel(["SIE", "SHEAR", "CONVERGENCE"]),
                       source_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       kwargs_numerics={"supersampling_factor": cfg.supersampling})
    kw_lens = [{"theta_E": 0.8, "e1": 0.1, "e2": -0.05, "center_x": 0, "center_y": 0},
               {"gamma1": 0.05, "gamma2": 0.02, "ra_0": 0, "dec_0": 0}, {"kappa": 0.1, "ra_0": 0, "dec_0": 0}]
    kw_src = [{"amp": 10, "R_sersic": 0.2, "n_sersic": 1.5, "e1": 0.2, "e2": 0, "center_x": 0.05, "center_y": 0}]
    kw_ll = [{"amp": 50, "R_sersic": 0.6, "n_sersic": 4, "e1": 0.1, "e2": 0.1, "center_x": 0, "center_y": 0}]
    model.image(kw_lens, kw_src, kw_ll)  # warm-up (numba compilation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.image(kw_lens, kw_src, kw_ll)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--n", type=int, default=120, help="cutouts timed on one core")
    parser.add_argument("--full", action="store_true", help="also run the whole default set on 2 workers")
    args = parser.parse_args()

    from skysieve.config import Params, load_params
    from skysieve.tasks.lens.sim import _init_worker, plan_lens_tasks, run_lens_task, simulate_lens_cutouts
    from skysieve.tasks.lens.sim import write_lens_simulation

    p = load_params(args.params) if Path(args.params).is_file() else Params()
    cfg = p.simulate_lens
    t_base = baseline_render_s(cfg)
    small = cfg.model_copy(update={"n_cutouts": args.n})
    _init_worker()  # this process now behaves as one simulation worker (one core)
    run_lens_task(plan_lens_tasks(small, seed=0)[0], small, p.cosmology)  # warm-up: imports, numba, distances
    t0 = time.perf_counter()
    _, truth = simulate_lens_cutouts(small, p.cosmology, seed=cfg.seed)
    t_one = time.perf_counter() - t0
    rate = len(truth) / t_one
    n_lens = int(np.sum(truth["label"]))
    print(f"cutouts: {cfg.size_px}×{cfg.size_px} px × {len(cfg.bands)} bands, supersampling {cfg.supersampling}, "
          f"{n_lens} lenses + {len(truth) - n_lens} negatives timed on one core")
    print(f"baseline (one-band lenstronomy ImageModel render): {t_base * 1e3:.1f} ms = {1 / t_base:.1f} renders/s")
    print(f"simulate: {rate:.2f} cutouts/s/core ({t_one / len(truth) * 1e3:.0f} ms each = "
          f"{t_one / len(truth) / t_base:.1f} baseline renders; our rate is {rate * t_base:.3f}× the baseline rate)")
    lenses = small.model_copy(update={"positive_to_negative": 100.0, "negatives": small.negatives.model_copy(
        update={"twin_fraction": 0.0})})
    t0 = time.perf_counter()
    _, lens_truth = simulate_lens_cutouts(lenses, p.cosmology, seed=cfg.seed)
    t_lens = time.perf_counter() - t0
    lens_rate = int(np.sum(lens_truth["label"])) / t_lens
    print(f"lenses only: {lens_rate:.2f} lenses/s/core ({1 / lens_rate * 1e3:.0f} ms each = "
          f"{1 / lens_rate / t_base:.1f} baseline renders)")
    estimate = cfg.n_cutouts / (2 * rate)
    print(f"default set ({cfg.n_cutouts} cutouts) on 2 cores, estimated: {estimate:.0f} s (target < 600 s): "
          f"{'OK' if estimate < 600 else 'TOO SLOW'}")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            full = write_lens_simulation(cfg, p.cosmology, Path(tmp) / "sim", seed=cfg.seed, workers=2)
            wall = time.perf_counter() - t0
        print(f"default set measured: {len(full)} cutouts in {wall:.0f} s on 2 workers, incl. start-up "
              f"(target < 600 s): {'OK' if wall < 600 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
