"""Benchmark: the SZ catalog on the realistic sky of issue 19 — survey map *and* sky physics.

Issue 19 target: on a realistic simulated map (footprint, varying depth, scan
1/f noise, TAN, sources correlated with clusters) catalog completeness ≥ 0.95
for M500c ≥ 3×10¹⁴ M☉ and purity ≥ 0.90, no candidate outside the footprint.

Two skies per seed, both survey maps exactly as ``bench_footprint.py`` makes
them (irregular footprint, ``depth_rms`` 0.5, ℓ_knee = 1500 scan noise, TAN,
weight maps), from the same seed:

* **survey**: the default sky physics (β-model clusters, M500c ≥ 5×10¹³ M☉,
  field sources only) — ``bench_footprint.py``'s *after* map;
* **realistic**: the same survey, and the sky physics switched on:
  A10 GNFW clusters with axis ratios q ~ U(``--q-min``, 1) at random angles
  (``tsz.profile: gnfw``), haloes down to ``--m-min`` (1e13 M☉; those below
  5e13 M☉ and smaller than 1′ as point-like unresolved Y,
  ``tsz.point_below_msun``), and radio sources in haloes
  (``cluster_sources``: ``--n-per-1e14`` per 10¹⁴ M☉ above 10¹⁴ M☉, within R500,
  above 1 mJy at 148 GHz).  The halo draw differs from *survey* only by the
  haloes below 5e13 M☉ (one light cone, a wider mass range: a new Poisson
  draw), so the two rows are two samples, not a paired comparison.

The catalog runs as ``bench_footprint.py``'s *after* (``--weights``, 5′
apodization, 10′ edge margin) with the matched filter's β-model templates —
the mismatch with GNFW clusters real data has.  Scored in the interior (≥ the
edge margin from the footprint edge): completeness of the haloes with M500c ≥
``--m500-min``; purity against haloes with M500c ≥ 5×10¹³ M☉ within 1′
(as ``bench_footprint.py``; the haloes below are too many to count a chance
coincidence with one as a detection).  Wilson 95 % intervals, counts pooled over seeds.

Run (a registered SZ model is needed; with the main checkout's registry,
read from a copy so nothing is written there):

    cp /work/main/mlflow.db /tmp/bench.db
    MLFLOW_TRACKING_URI=sqlite:////tmp/bench.db python benchmarks/bench_realistic_sky.py \\
        --model models:/skysieve-sz-ensemble@candidate --cl data/sz/cmb_cl.fits --seeds 7 8 9

On 2 shared cores each sky takes 2–4 min (simulation ~1 min, catalog ~2 min):
``--seeds 7 8 9`` with both skies ~19 min, ``--skies realistic`` ~10 min.
"""

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

M_REAL = 5e13


def _footprint_bench():
    spec = importlib.util.spec_from_file_location("bench_footprint", Path(__file__).with_name("bench_footprint.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _realistic_cfg(base, args):
    from skysieve.config import ClusterSourcesParams, GnfwParams

    tsz = base.tsz.model_copy(update={"profile": "gnfw", "gnfw": GnfwParams(axis_ratio_min=args.q_min),
                                      "point_below_msun": M_REAL, "point_theta500_max_arcmin": 1.0})
    return base.model_copy(update={
        "tsz": tsz,
        "halos": base.halos.model_copy(update={"m_min_msun": args.m_min}),
        "cluster_sources": ClusterSourcesParams(enabled=True, n_per_1e14_msun=args.n_per_1e14),
    })


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--cl", type=Path, required=True)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[7])
    ap.add_argument("--q-min", type=float, default=0.5)
    ap.add_argument("--m-min", type=float, default=1e13)
    ap.add_argument("--n-per-1e14", type=float, default=0.5)
    ap.add_argument("--apod-arcmin", type=float, default=5.0)
    ap.add_argument("--edge-margin-arcmin", type=float, default=10.0)
    ap.add_argument("--m500-min", type=float, default=3e14)
    ap.add_argument("--skies", nargs="+", choices=("survey", "realistic"), default=["survey", "realistic"],
                    help="which skies to run (realistic alone: about half the time)")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from astropy.table import Table

    from skysieve._tracking import configure_mlflow
    from skysieve.config import SurveyParams, load_params
    from skysieve.data import make_footprint, read_maps
    from skysieve.sim import simulate_sky, write_sky
    from skysieve.tasks.sz._catalog_model import load_catalog_model
    from skysieve.tasks.sz.catalog import make_catalog

    fb = _footprint_bench()
    params = load_params(args.params)
    cl = Table.read(args.cl)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-realistic-"))
    survey = SurveyParams(footprint=True, depth_rms=0.5, ell_knee=1500.0, alpha_knee=3.0, projection="tan")
    base = params.simulate_sz.model_copy(update={"survey": survey})
    skies = {name: cfg for name, cfg in (("survey", base), ("realistic", _realistic_cfg(base, args)))
             if name in args.skies}
    configure_mlflow()
    model = load_catalog_model(args.model)
    margin = args.edge_margin_arcmin
    per_seed = {}
    for seed in args.seeds:
        per_seed[seed] = {"results": {}, "t_simulate_s": {}, "t_catalog_s": {}, "n_halos": {}, "n_sources": {}}
        for name, cfg in skies.items():
            t0 = time.perf_counter()
            sky = simulate_sky(cfg, params.cosmology, cl=cl, seed=seed)
            paths = write_sky(sky, work / f"{seed}" / name)
            nb = len(sky.freqs_ghz)
            maps, weights = paths[:nb], paths[nb: 2 * nb]
            t1 = time.perf_counter()
            fp = make_footprint(read_maps(maps, allow_nan=True), apod_arcmin=args.apod_arcmin)
            table = make_catalog(maps, model=model, weights=weights, apod_arcmin=args.apod_arcmin,
                                 edge_margin_arcmin=margin).table
            t2 = time.perf_counter()
            real = sky.halos[np.asarray(sky.halos["m500c"], float) >= M_REAL]
            res = {"interior": fb._score(table, real, interior=lambda x, y, fp=fp: fp.edge_distance_arcmin(x, y)
                                         >= margin, wcs=sky.wcs, m500_min=args.m500_min)}
            cx, cy = (np.asarray(v, float) for v in sky.wcs.world_to_pixel_values(table["ra"], table["dec"]))
            decided = np.zeros(len(table), bool)
            for m in ("mf", "cnn", "and", "rank_product"):
                decided |= np.asarray(table[f"decision_{m}"], bool)
            res["n_outside_footprint"] = int(np.count_nonzero(decided & ~(fp.edge_distance_arcmin(cx, cy) > 0)))
            per_seed[seed]["results"][name] = res
            per_seed[seed]["t_simulate_s"][name] = t1 - t0
            per_seed[seed]["t_catalog_s"][name] = t2 - t1
            per_seed[seed]["n_halos"][name] = len(sky.halos)
            host = sky.sources["host_halo_id"] if "host_halo_id" in sky.sources.colnames else np.zeros(0)
            per_seed[seed]["n_sources"][name] = {"all": len(sky.sources),
                                                 "in_haloes": int(np.sum(np.asarray(host) >= 0))}
            print(f"seed {seed} {name}: simulate {t1 - t0:.0f} s, catalog {t2 - t1:.0f} s", file=sys.stderr, flush=True)
    pooled = fb._pool([r["results"] for r in per_seed.values()])
    report = {"seeds": args.seeds, "survey": survey.model_dump(), "q_min": args.q_min, "m_min": args.m_min,
              "n_per_1e14": args.n_per_1e14, "edge_margin_arcmin": margin, "m500_min": args.m500_min,
              "model": args.model, "pooled": pooled, "per_seed": per_seed}
    text = json.dumps(report, indent=1, default=float)
    if args.out:
        args.out.write_text(text)
    print(text)
    print("\n| sky | method | purity (95 %) | candidates | completeness M500 ≥ 3e14 (95 %) | clusters |")
    print("|---|---|---|---|---|---|")
    for name, by_region in pooled.items():
        for m, r in by_region["interior"].items():
            print(f"| {name} | {m} | {r['purity']:.2f} ({r['purity_lo']:.2f}–{r['purity_hi']:.2f}) | "
                  f"{r['n_candidates']} | {r['completeness']:.2f} ({r['completeness_lo']:.2f}–"
                  f"{r['completeness_hi']:.2f}) | {r['n_true']} |")
    print("\ncandidates deciding anything outside the footprint: "
          + ", ".join(f"{n} {pooled[n]['n_outside_footprint']}" for n in pooled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
