"""Benchmark: catalog production — cutouts per second against a bare ``model.predict``, and peak memory.

Targets (issue 5): ``make_catalog`` scores at least 70 % as many cutouts per
second as a bare Keras ``model.predict`` of the same model (the fold models,
averaged, then Platt) on the same cutouts already in memory; and its peak
memory on a patch four times the default area is under 1.3× that on the
default patch.

Set-up (in a scratch directory, each step in its own process):

* the model: ``models/sz/cnn`` if ``skysieve train`` has made it, else a
  small one trained here with the default ``train_sz`` network (1 epoch of
  2 steps per fold — its quality does not matter, its cost does);
* a registry (MLflow on SQLite) holding that CNN (``log_cnn_model``) and an
  ensemble registered with the default params' catalog config, its CNN
  threshold at the 99.5th percentile of the CNN's scores on the sky, so
  positive tiles are as rare as on a real field;
* skies: the default patch (``simulate_sz.patch``) and one twice as wide and
  twice as high, each with a CMB realisation, white noise at the DeepSZ
  levels, beams, 10 clusters and 20 radio sources per square degree.

Throughput: in one process, alternating, best of ``--repeat``: (a)
``make_catalog`` on the default patch (reads the maps, hashes them, runs the
matched filter with source detection, streams every tile through the CNN,
combines, merges; the model already loaded), (b) the bare baseline: all the
tiles of the same grid in memory, ``model.predict(x, batch_size=512)`` for
each fold model, averaged, Platt-scaled, and (c) the same with
``predict_on_batch`` batch by batch (the tighter baseline).

Memory: ``make_catalog`` (model loaded from the registry, catalog written)
once per patch, each in a fresh process; peak RSS of the whole process.

Run: .venv/bin/python benchmarks/bench_catalog.py [--params params.yaml] [--repeat 3] [--workdir DIR]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENSEMBLE = "bench-sz-ensemble"
CNN = "bench-sz-cnn"


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _child(name: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", name, *args], capture_output=True, text=True,
                         check=False, env={**os.environ, **(env or {})}, cwd=REPO)
    if out.returncode:
        sys.stderr.write(out.stdout[-4000:] + out.stderr[-6000:])
        raise SystemExit(f"child {name} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- children -----------------------------------------------------------------------------------------------------

def child_sky(params_path: str, out_dir: str, scale: str, seed: str) -> dict:
    """Write a three-band sky of the default geometry with width and height times ``scale``."""
    import numpy as np
    from astropy.table import Table

    from skysieve.config import load_params
    from skysieve.data import band_name, write_map
    from skysieve.sim.cmb import cmb_map
    from skysieve.sim.instrument import apply_beam, white_noise
    from skysieve.sim.sky import make_geometry
    from skysieve.sim.sources import flux_column, source_map
    from skysieve.sim.tsz import paint_beta_profiles, tsz_frequency_factor

    p = load_params(params_path)
    done = Path(out_dir) / "sky.json"
    if done.is_file():  # a kept --workdir: reuse the sky
        return json.loads(done.read_text())
    s = float(scale)
    patch = p.simulate_sz.patch.model_copy(update={"width_deg": p.simulate_sz.patch.width_deg * s,
                                                   "height_deg": p.simulate_sz.patch.height_deg * s})
    shape, wcs = make_geometry(patch)
    rng = np.random.default_rng(int(seed))
    area = patch.width_deg * patch.height_deg
    ell = np.arange(20001)
    cl = np.zeros(ell.size)
    cl[2:] = 2 * np.pi * 6000 * np.exp(-(ell[2:] / 1000) ** 1.2) / (ell[2:] * (ell[2:] + 1))
    cmb = cmb_map(shape, wcs, Table({"ell": ell, "cl_tt": cl}), seed=rng)
    n_cl, n_src = int(10 * area), int(20 * area)
    ny, nx = shape
    cra, cdec = wcs.wcs_pix2world(rng.uniform(0, nx - 1, n_cl), rng.uniform(0, ny - 1, n_cl), 0)
    theta_c = rng.uniform(0.3, 1.5, n_cl)
    ymap = paint_beta_profiles(shape, wcs, cra, cdec, 10 ** rng.uniform(-4.7, -3.7, n_cl), theta_c, 10 * theta_c)
    sra, sdec = wcs.wcs_pix2world(rng.integers(0, nx, n_src), rng.integers(0, ny, n_src), 0)
    flux148 = 5.0 * (1 - rng.random(n_src)) ** (-1 / 1.1)  # 5 mJy and up, steep counts
    sources = Table({"ra": sra, "dec": sdec})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for b in p.simulate_sz.bands:
        sources[flux_column(b.freq_ghz)] = flux148 * (b.freq_ghz / 148.0) ** -0.7
        sky = cmb + ymap * (p.cosmology.Tcmb0_k * 1e6 * tsz_frequency_factor(b.freq_ghz))
        sky = sky + source_map(shape, wcs, sources, freq_ghz=b.freq_ghz)
        sky = np.asarray(apply_beam(sky, b.beam_fwhm_arcmin)) + np.asarray(
            white_noise(shape, wcs, b.noise_uk_arcmin, seed=rng))
        paths.append(str(write_map(out / f"sky_{band_name(b.freq_ghz)}.fits", sky.astype(np.float32), wcs,
                                   freq_ghz=b.freq_ghz)))
    info = {"shape": list(shape), "paths": paths, "clusters": n_cl, "sources": n_src}
    done.write_text(json.dumps(info))
    return info


def child_model(params_path: str, work: str) -> dict:
    """Train a small model with the default network if ``models/sz/cnn`` does not exist; return its directory."""
    existing = REPO / "models" / "sz" / "cnn"
    if (existing / "ensemble.json").is_file():
        return {"models_dir": str(existing), "trained_here": False}
    if (Path(work) / "models" / "sz" / "cnn" / "ensemble.json").is_file():  # a kept --workdir
        return {"models_dir": str(Path(work) / "models" / "sz" / "cnn"), "trained_here": True}
    import h5py
    import numpy as np
    from astropy.table import Table

    from skysieve.config import load_params
    from skysieve.data.dataset import open_dataset
    from skysieve.train import train_ensemble

    p = load_params(params_path)
    size = round(p.cutouts_sz.size_arcmin / p.simulate_sz.patch.pixel_arcmin)
    n = 600
    rng = np.random.default_rng(0)
    data = Path(work) / "cutouts"
    data.mkdir(parents=True, exist_ok=True)
    labels = (rng.random(n) < 0.2).astype(np.int16)
    images = rng.normal(0.0, 20.0, (n, size, size, 3)).astype(np.float32)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    blob = np.exp(-(xx**2 + yy**2) / (2 * (size / 10) ** 2))[..., None] * np.array([-60.0, -40.0, 5.0])
    images[labels == 1] += blob.astype(np.float32)
    ra = np.sort(rng.uniform(10.0, 20.0, n))
    with h5py.File(data / "cutouts.h5", "w") as h5:
        ds = h5.create_dataset("images", data=images, chunks=(16, size, size, 3))
        ds.attrs["channels"] = ["90GHz", "148GHz", "219GHz"]
        ds.attrs["unit"] = "uK_CMB"
        ds.attrs["pixel_arcmin"] = p.simulate_sz.patch.pixel_arcmin
    Table({"id": np.arange(n), "ra": ra, "dec": rng.uniform(-1, 1, n), "label": labels,
           "split": np.where(ra < 11.5, "test", np.where(ra < 13.0, "val", "train")),
           "group": np.array([f"tile{int(r)}" for r in ra])}).write(data / "catalog.fits", overwrite=True)
    dataset = open_dataset(data)
    cfg = p.train_sz.model_copy(update={"epochs": 1, "steps_per_epoch": 2})
    result = train_ensemble(cfg, dataset)
    result.ensemble.metadata.update({"task": "sz", "net": cfg.net.name, "channels": list(dataset.channels),
                                     "input_shape": list(dataset.shape[1:]), "note": "benchmark model, 2 steps"})
    out = result.ensemble.save(Path(work) / "models" / "sz" / "cnn")
    return {"models_dir": str(out), "trained_here": True}


def child_register(params_path: str, models_dir: str, map_paths: str) -> dict:
    """Register the CNN and an ensemble whose CNN threshold keeps 0.5 % of the sky's tiles."""
    import mlflow
    import numpy as np

    from skysieve._tracking import configure_mlflow
    from skysieve.tasks.sz._catalog_config import catalog_documents
    from skysieve.catalog import iter_tile_batches, tile_grid
    from skysieve.config import load_params
    from skysieve.data import read_maps
    from skysieve.ensemble import Ensembles
    from skysieve.registry import log_cnn_model, register_ensemble, register_model_version
    from skysieve.train import load_trained

    p = load_params(params_path)
    configure_mlflow()
    maps = read_maps(map_paths.split(","))
    model = load_trained(models_dir)
    size = int(model.metadata["input_shape"][0])
    grid = tile_grid(maps.data.shape[-2:], size_px=size, central_px=size * 3 // 4, stride_px=size * 3 // 8)
    ids = np.random.default_rng(0).choice(grid.n, min(4000, grid.n), replace=False)
    probs = np.concatenate([model.predict_proba(b.images) for b in iter_tile_batches(maps.data, grid, ids=ids)])
    t_cnn = float(np.quantile(probs, 0.995))
    prov = {"git.commit": "bench", "data.bench.md5": "bench"}
    with mlflow.start_run(run_name="bench-register"):
        cnn_mv = register_model_version(log_cnn_model(models_dir), CNN, task="sz", test_metrics={"cnn": {"f1": 0.0}},
                                        thresholds={"cnn": t_cnn}, provenance=prov, primary_method="cnn")
        ens = Ensembles.from_state({"mf": 5.0, "cnn": t_cnn, "and.cnn": float(np.quantile(probs, 0.95)),
                                    "and.mf": 4.5, "rank_product": 0.995},
                                   {"cnn_prob": probs, "mf_snr": np.random.default_rng(1).normal(0, 1, 5000)})
        metrics = {m: {"f1": 0.0} for m in ("mf", "cnn", "and", "rank_product")}
        mv = register_ensemble(ens, ENSEMBLE, task="sz", test_metrics=metrics, provenance=prov,
                               cnn_model_uri=f"models:/{CNN}/{cnn_mv.version}", documents=catalog_documents(p))
    return {"uri": f"models:/{ENSEMBLE}/{mv.version}", "t_cnn": t_cnn}


def child_speed(uri: str, map_paths: str, repeat: str, block_px: str) -> dict:
    """Alternate make_catalog and the bare baselines on the default patch; best of ``repeat`` each."""
    import numpy as np

    from skysieve._tracking import configure_mlflow
    from skysieve.catalog import iter_tile_batches, tile_grid
    from skysieve.tasks.sz._catalog_model import load_catalog_model
    from skysieve.tasks.sz.catalog import make_catalog
    from skysieve.data import read_maps
    from skysieve.data.dihedral import dihedral

    configure_mlflow()
    t0 = time.perf_counter()
    model = load_catalog_model(uri)
    t_load = time.perf_counter() - t0
    paths = map_paths.split(",")
    cfg = model.config
    maps = read_maps(paths)
    grid = tile_grid(maps.data.shape[-2:], size_px=cfg.size_px, central_px=cfg.central_px,
                     stride_px=max(cfg.central_px // 2, 1))
    x = np.concatenate([b.images for b in iter_tile_batches(maps.data, grid, batch_size=4096)])  # all tiles, in memory
    ens = model.cnn.ensemble
    cal = ens.calibrator

    # a model with test-time augmentation scores every tile in the eight D4 views: so does the baseline
    views = range(8) if ens.tta else range(1)

    def bare_predict():
        raw = np.mean([np.asarray(m.predict(dihedral(x, k), batch_size=512, verbose=0), float).ravel()
                       for k in views for m in ens.models], axis=0)
        return cal.predict_proba(raw) if cal is not None else raw

    def bare_batches():
        return np.concatenate([ens.predict_proba(x[i: i + 512]) for i in range(0, len(x), 512)])

    bare_predict(), bare_batches()  # warm up (graph tracing) like the catalog's first batch
    make_catalog(paths, model=model, mf_block_px=int(block_px))
    best = {"catalog": np.inf, "predict": np.inf, "batches": np.inf}
    fastest = None  # the summary of the fastest catalog run, for its breakdown
    for _ in range(int(repeat)):
        t0 = time.perf_counter()
        result = make_catalog(paths, model=model, mf_block_px=int(block_px))
        if time.perf_counter() - t0 < best["catalog"]:
            best["catalog"], fastest = time.perf_counter() - t0, result.summary
        t0 = time.perf_counter()
        bare_predict()
        best["predict"] = min(best["predict"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare_batches()
        best["batches"] = min(best["batches"], time.perf_counter() - t0)
    s = fastest
    return {"n_tiles": len(x), "n_views": len(views), "t_load_s": t_load, "best_s": best, "t_mf_s": s["t_mf_s"],
            "t_score_s": s["t_score_s"], "n_blocks": s["n_blocks"], "n_candidates": s["n_candidates"],
            "n_detections": s["n_detections"], "n_sources": s["n_sources"], "n_folds": len(ens.models)}


def child_memory(uri: str, map_paths: str, out: str, block_px: str) -> dict:
    """make_catalog once, model from the registry, catalog written: peak RSS of the whole process."""
    t0 = time.perf_counter()
    from skysieve._tracking import configure_mlflow
    from skysieve.tasks.sz._catalog_model import load_catalog_model
    from skysieve.tasks.sz.catalog import make_catalog
    from skysieve.catalog import write_catalog

    configure_mlflow()
    model = load_catalog_model(uri)
    rss_model = _rss_gb()
    result = make_catalog(map_paths.split(","), model=model, mf_block_px=int(block_px))
    write_catalog(result, out)
    return {"rss_after_model_gb": rss_model, "peak_gb": _rss_gb(), "n_tiles": result.summary["n_tiles"],
            "n_blocks": result.summary["n_blocks"], "t_s": time.perf_counter() - t0,
            "n_candidates": result.summary["n_candidates"]}


CHILDREN = {"sky": child_sky, "model": child_model, "register": child_register, "speed": child_speed,
            "memory": child_memory}


# -- parent -------------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--block-px", type=int, default=2048, help="make_catalog mf_block_px")
    parser.add_argument("--workdir", help="scratch directory (default: a temporary one, removed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](*rest)))
        return
    t_start = time.perf_counter()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-catalog-"))
    work.mkdir(parents=True, exist_ok=True)
    params = str(Path(args.params).resolve())
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db", "TF_CPP_MIN_LOG_LEVEL": "2",
           "MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "1"}
    try:
        small = _child("sky", params, str(work / "sky1"), "1", "1")
        large = _child("sky", params, str(work / "sky2"), "2", "2")
        model = _child("model", params, str(work), env=env)
        reg = _child("register", params, model["models_dir"], ",".join(small["paths"]), env=env)
        speed = _child("speed", reg["uri"], ",".join(small["paths"]), str(args.repeat), str(args.block_px), env=env)
        mem1 = _child("memory", reg["uri"], ",".join(small["paths"]), str(work / "cat1.fits"), str(args.block_px),
                      env=env)
        mem2 = _child("memory", reg["uri"], ",".join(large["paths"]), str(work / "cat2.fits"), str(args.block_px),
                      env=env)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)

    n, best = speed["n_tiles"], speed["best_s"]
    rate = {k: n / v for k, v in best.items()}
    print(f"model: {model['models_dir']} ({'trained here, 2 steps' if model['trained_here'] else 'from skysieve train'}"
          f", {speed['n_folds']} folds); loading it from the registry: {speed['t_load_s']:.1f} s")
    print(f"default patch: {small['shape']} px, {small['clusters']} clusters, {small['sources']} sources; "
          f"{n} tiles; MF in {speed['n_blocks']} block(s) of <= {args.block_px} px")
    print(f"bare model.predict (fold models × {speed['n_views']} view(s), batch 512, in memory): "
          f"{best['predict']:.2f} s = {rate['predict']:.0f} cutouts/s")
    print(f"predict_on_batch loop (batch 512, in memory):         {best['batches']:.2f} s = {rate['batches']:.0f} "
          "cutouts/s")
    ratio = rate["catalog"] / rate["predict"]
    print(f"make_catalog (maps → catalog, MF included):           {best['catalog']:.2f} s = {rate['catalog']:.0f} "
          f"cutouts/s = {ratio:.0%} of model.predict (target >= 70 %): {'OK' if ratio >= 0.7 else 'TOO SLOW'}; "
          f"{rate['catalog'] / rate['batches']:.0%} of the predict_on_batch loop")
    print(f"  of which matched filter {speed['t_mf_s']:.2f} s, tiles + CNN + combine {speed['t_score_s']:.2f} s; "
          f"{speed['n_detections']} MF detections, {speed['n_sources']} sources, {speed['n_candidates']} candidates")
    growth = mem2["peak_gb"] / mem1["peak_gb"]
    print(f"peak RSS, default patch ({mem1['n_tiles']} tiles, {mem1['n_blocks']} blocks): {mem1['peak_gb']:.2f} GB "
          f"(after loading the model: {mem1['rss_after_model_gb']:.2f} GB)")
    print(f"peak RSS, 4× patch {large['shape']} ({mem2['n_tiles']} tiles, {mem2['n_blocks']} blocks): "
          f"{mem2['peak_gb']:.2f} GB (after loading the model: {mem2['rss_after_model_gb']:.2f} GB)")
    print(f"growth: {growth:.2f}× for {mem2['n_tiles'] / mem1['n_tiles']:.1f}× the tiles (target < 1.3×): "
          f"{'OK' if growth < 1.3 else 'TOO MUCH'}; whole catalog runs {mem1['t_s']:.1f} s and {mem2['t_s']:.1f} s "
          "incl. imports and model loading")
    print(f"benchmark wall time: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
