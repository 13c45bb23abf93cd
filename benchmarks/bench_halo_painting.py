"""Benchmark: the cost of the tSZ map with the sky-physics switches, as ratios to the default in the same run.

On the default ``simulate_sz`` patch (7.5° square, 0.25′), one halo draw per
mass floor (seed ``--seed``), the time of ``tsz_map`` (the kSZ paints the same
profiles again) for:

* ``beta``: the default β-model, M500c ≥ 5×10¹³ M☉ (the baseline);
* ``gnfw``: A10 GNFW profiles, round; ``gnfw_elliptical``: q ~ U(0.5, 1);
* ``beta_1e13``: haloes down to 10¹³ M☉, every one painted as a profile;
* ``beta_1e13_points``: the same haloes, those below 5×10¹³ M☉ and smaller
  than 1′ added as single-pixel Y (``tsz.point_below_msun``);
* ``gnfw_elliptical_1e13_points``: everything the realistic sky switches on.

Each is timed ``--repeats`` times; the median and its ratio to the baseline's
median are printed (a shared machine's load moves both).

    python benchmarks/bench_halo_painting.py [--repeats 3] [--seed 1]
"""

import argparse
import json
import sys
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    from skysieve.config import CosmologyParams, GnfwParams, SimulateSzParams
    from skysieve.sim import make_geometry, mean_compton_y, sample_halos, tsz_map

    base = SimulateSzParams()
    cosmo = CosmologyParams()
    shape, wcs = make_geometry(base.patch)
    halos = {m: sample_halos(shape, wcs, base.halos.model_copy(update={"m_min_msun": m}), cosmo, seed=args.seed)
             for m in (5e13, 1e13)}
    ell = GnfwParams(axis_ratio_min=0.5)
    points = {"point_below_msun": 5e13, "point_theta500_max_arcmin": 1.0}
    cases = {
        "beta": (5e13, {}),
        "gnfw": (5e13, {"profile": "gnfw"}),
        "gnfw_elliptical": (5e13, {"profile": "gnfw", "gnfw": ell}),
        "beta_1e13": (1e13, {}),
        "beta_1e13_points": (1e13, points),
        "gnfw_elliptical_1e13_points": (1e13, {"profile": "gnfw", "gnfw": ell, **points}),
    }
    rng = np.random.default_rng(args.seed)
    out = {}
    for name, (m_min, update) in cases.items():
        tsz = base.tsz.model_copy(update=update)
        table = halos[m_min]
        if tsz.profile == "gnfw" and tsz.gnfw.axis_ratio_min < 1:
            table = table.copy()
            table["axis_ratio"] = rng.uniform(0.5, 1.0, len(table))
            table["position_angle_deg"] = rng.uniform(0.0, 180.0, len(table))
        times, ymap = [], None
        for _ in range(args.repeats):
            t = time.perf_counter()
            ymap = tsz_map(shape, wcs, table, tsz)
            times.append(time.perf_counter() - t)
        out[name] = {"n_halos": len(table), "median_s": float(np.median(times)), "times_s": times,
                     "mean_y": float(np.mean(ymap))}
    for r in out.values():
        r["ratio_to_beta"] = r["median_s"] / out["beta"]["median_s"]
    out["mean_y_analytic"] = {
        "1e13-5e13": mean_compton_y(base.halos, cosmo, base.tsz, m_min_msun=1e13, m_max_msun=5e13),
        "5e13-5e15": mean_compton_y(base.halos, cosmo, base.tsz, m_min_msun=5e13, m_max_msun=5e15),
    }
    print(json.dumps(out, indent=1))
    print("\n| case | haloes | tsz_map median (s) | ratio to beta | mean y |")
    print("|---|---|---|---|---|")
    for name in cases:
        r = out[name]
        print(f"| {name} | {r['n_halos']} | {r['median_s']:.2f} | {r['ratio_to_beta']:.2f} | {r['mean_y']:.3g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
