"""Benchmark: the SZ catalog on a realistic survey map — before (NaN set to 0) and after (footprint handling).

Issue 19 (item 3) target: on a realistic simulated map (footprint, varying
depth, scan-direction 1/f noise, TAN), catalog completeness ≥ 0.95 for
M500c ≥ 3×10¹⁴ M☉ and purity ≥ 0.90, and no candidate outside the footprint.

Set-up: the default ``simulate_sz`` patch (7.5° square, 0.25′) with a seed
other than the training sky's, simulated twice from the same seed — so the
same halos, CMB, sources and dust:

* **survey**: ``simulate_sz.survey`` on — irregular footprint, depth varying
  (``depth_rms``), 1/f noise along RA (``ell_knee``, ``alpha_knee``), TAN
  projection; maps with NaN outside and weight maps beside them;
* **clean**: the same sky, survey features off (periodic CAR square, uniform
  white noise).

Three catalogs with one registered model (``--model``), in one process:

* ``clean``: the clean maps (the figures a square simulated map gives);
* ``before``: the survey maps with NaN set to 0 and no weights — what a user
  had to do before (``read_maps`` refused NaN), read as a periodic map;
* ``after``: the survey maps as they are, with ``--weights``, the footprint
  apodized (``--apod-arcmin``) and candidates within ``--edge-margin-arcmin``
  of its edge flagged and left out of the decisions.

Scoring (the same for all three, in one region): the *interior* — pixels of
the survey footprint at least the edge margin from its edge (clean-map
positions are mapped onto the survey grid by their sky position).  True
objects for completeness: halos with M500c ≥ ``--m500-min`` in the interior.
Purity: the fraction of a method's candidates in the interior that match,
one to one within 1′, a real cluster — any simulated halo (M500c ≥ 5×10¹³
M☉): a detected cluster below the mass cut is not a false detection.  Each figure comes with its Wilson 95 % interval and counts; the
``before`` catalog is also scored over the whole footprint (what it reports,
edge included) and the number of candidates it places outside the footprint
is given.

Run (a trained and registered SZ model is needed: ``dvc repro register_sz``):

    python benchmarks/bench_footprint.py --model models:/skysieve-sz-ensemble@candidate \\
        --cl data/sz/cmb_cl.fits [--params params.yaml] [--seeds 7 8 9] [--workdir DIR] [--out footprint.json]

Several seeds are independent skies (same model); their counts are pooled.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

M500_MIN = 3e14


def _simulate(params, cl, *, seed: int, survey: dict, out: Path):
    from skysieve.config import SurveyParams
    from skysieve.sim import simulate_sky, write_sky

    cfg = params.simulate_sz.model_copy(update={"survey": SurveyParams(**survey)})
    sky = simulate_sky(cfg, params.cosmology, cl=cl, seed=seed)
    paths = write_sky(sky, out)
    nb = len(sky.freqs_ghz)
    return sky, paths[:nb], paths[nb: 2 * nb] if sky.weights is not None else []


def _zero_filled(paths, out: Path):
    from astropy.io import fits

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p in paths:
        with fits.open(p) as hdul:
            hdul[0].data = np.nan_to_num(hdul[0].data, nan=0.0)
            hdul.writeto(out / p.name, overwrite=True)
        written.append(out / p.name)
    return written


def _score(table, halos, *, interior, wcs, m500_min: float, radius_arcmin: float = 1.0) -> dict:
    """Purity and completeness of every method in the region where ``interior(x, y)`` holds."""
    from skysieve.catalog import match_one_to_one
    from skysieve.ensemble import METHODS
    from skysieve.metrics import wilson_interval

    hx, hy = (np.asarray(v, float) for v in wcs.world_to_pixel_values(halos["ra"], halos["dec"]))
    m500 = np.asarray(halos["m500c"], float)
    real = m500 > 0  # every simulated halo is a real cluster
    target = (m500 >= m500_min) & interior(hx, hy)
    cx, cy = (np.asarray(v, float) for v in wcs.world_to_pixel_values(table["ra"], table["dec"]))
    in_region = interior(cx, cy)
    out = {}
    for m in METHODS:
        pick = np.asarray(table[f"decision_{m}"], bool) & in_region
        ra, dec = np.asarray(table["ra"], float)[pick], np.asarray(table["dec"], float)[pick]
        idx, _ = match_one_to_one(ra, dec, np.asarray(halos["ra"], float)[real], np.asarray(halos["dec"], float)[real],
                                  radius_arcmin=radius_arcmin)
        tp = int(np.count_nonzero(idx >= 0))
        found = np.zeros(len(halos), bool)
        found[np.flatnonzero(real)[idx[idx >= 0]]] = True
        k, n = int(np.count_nonzero(found & target)), int(np.count_nonzero(target))
        plo, phi = wilson_interval(tp, pick.sum())
        clo, chi = wilson_interval(k, n)
        out[m] = {"purity": tp / max(int(pick.sum()), 1), "purity_lo": float(plo), "purity_hi": float(phi),
                  "n_candidates": int(pick.sum()), "tp": tp,
                  "completeness": k / max(n, 1), "completeness_lo": float(clo), "completeness_hi": float(chi),
                  "n_true": n, "found": k}
    return out


def _pool(runs: list[dict]) -> dict:
    """Counts summed over the seeds' results, rates and Wilson intervals recomputed; outside counts summed."""
    from skysieve.metrics import wilson_interval

    out: dict = {}
    for name in runs[0]:
        out[name] = {}
        for region, by_method in runs[0][name].items():
            if not isinstance(by_method, dict):
                out[name][region] = sum(r[name][region] for r in runs)
                continue
            out[name][region] = {}
            for m in by_method:
                c = {k: sum(r[name][region][m][k] for r in runs) for k in ("n_candidates", "tp", "n_true", "found")}
                plo, phi = wilson_interval(c["tp"], c["n_candidates"])
                clo, chi = wilson_interval(c["found"], c["n_true"])
                out[name][region][m] = {**c, "purity": c["tp"] / max(c["n_candidates"], 1), "purity_lo": float(plo),
                                        "purity_hi": float(phi), "completeness": c["found"] / max(c["n_true"], 1),
                                        "completeness_lo": float(clo), "completeness_hi": float(chi)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--cl", type=Path, required=True)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[7])
    ap.add_argument("--depth-rms", type=float, default=0.5)
    ap.add_argument("--ell-knee", type=float, default=1500.0)
    ap.add_argument("--alpha-knee", type=float, default=3.0)
    ap.add_argument("--projection", default="tan")
    ap.add_argument("--apod-arcmin", type=float, default=5.0)
    ap.add_argument("--edge-margin-arcmin", type=float, default=10.0)
    ap.add_argument("--m500-min", type=float, default=M500_MIN)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from astropy.table import Table

    from skysieve._tracking import configure_mlflow
    from skysieve.config import load_params
    from skysieve.data import make_footprint, read_maps
    from skysieve.tasks.sz._catalog_model import load_catalog_model
    from skysieve.tasks.sz.catalog import make_catalog

    params = load_params(args.params)
    cl = Table.read(args.cl)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    survey = {"footprint": True, "depth_rms": args.depth_rms, "ell_knee": args.ell_knee,
              "alpha_knee": args.alpha_knee, "projection": args.projection}
    configure_mlflow()
    model = load_catalog_model(args.model)
    margin = args.edge_margin_arcmin
    per_seed = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        sky, maps, weights = _simulate(params, cl, seed=seed, survey=survey, out=work / f"{seed}" / "survey")
        _, clean_maps, _ = _simulate(params, cl, seed=seed, survey={}, out=work / f"{seed}" / "clean")
        zero = _zero_filled(maps, work / f"{seed}" / "before")
        t_sim = time.perf_counter() - t0
        fp = make_footprint(read_maps(maps, allow_nan=True), apod_arcmin=args.apod_arcmin)

        def interior(x, y, fp=fp):
            return fp.edge_distance_arcmin(x, y) >= margin

        def footprint(x, y, fp=fp):
            return fp.edge_distance_arcmin(x, y) > 0

        runs = {
            "clean": {"maps": clean_maps},
            "before": {"maps": zero},
            "after": {"maps": maps, "weights": weights, "apod_arcmin": args.apod_arcmin, "edge_margin_arcmin": margin},
        }
        results, timings = {}, {}
        for name, kw in runs.items():
            t = time.perf_counter()
            table = make_catalog(kw.pop("maps"), model=model, **kw).table
            timings[name] = time.perf_counter() - t
            results[name] = {"interior": _score(table, sky.halos, interior=interior, wcs=sky.wcs,
                                                m500_min=args.m500_min)}
            if name != "clean":
                cx, cy = (np.asarray(v, float) for v in sky.wcs.world_to_pixel_values(table["ra"], table["dec"]))
                decided = np.zeros(len(table), bool)
                for m in ("mf", "cnn", "and", "rank_product"):
                    decided |= np.asarray(table[f"decision_{m}"], bool)
                results[name]["n_outside_footprint"] = int(np.count_nonzero(decided & ~footprint(cx, cy)))
                results[name]["footprint"] = _score(table, sky.halos, interior=footprint, wcs=sky.wcs,
                                                    m500_min=args.m500_min)
                if name == "after":
                    results[name]["n_edge_flagged"] = int(np.count_nonzero(table["edge_flag"]))
        per_seed[seed] = {"observed_fraction": fp.fraction,
                          "interior_fraction": float(np.mean(fp.edge_px * fp.pixel_arcmin >= margin)),
                          "t_simulate_s": t_sim, "t_catalog_s": timings, "results": results}
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    results = _pool([r["results"] for r in per_seed.values()])
    report = {"seeds": args.seeds, "survey": survey, "apod_arcmin": args.apod_arcmin, "edge_margin_arcmin": margin,
              "m500_min": args.m500_min, "model": args.model, "pooled": results, "per_seed": per_seed}
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    print("\n| catalog | region | method | purity (95 %) | candidates | completeness M500 ≥ 3e14 (95 %) | clusters |")
    print("|---|---|---|---|---|---|---|")
    for name, by_region in results.items():
        for region in ("interior", "footprint"):
            for m, r in by_region.get(region, {}).items():
                print(f"| {name} | {region} | {m} | {r['purity']:.2f} ({r['purity_lo']:.2f}–{r['purity_hi']:.2f}) | "
                      f"{r['n_candidates']} | {r['completeness']:.2f} ({r['completeness_lo']:.2f}–"
                      f"{r['completeness_hi']:.2f}) | {r['n_true']} |")
    print("\ncandidates deciding anything outside the footprint: "
          + ", ".join(f"{n} {results[n]['n_outside_footprint']}" for n in ("before", "after"))
          + f"; flagged within {margin:g}′ of the edge (after): {results['after']['n_edge_flagged']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
