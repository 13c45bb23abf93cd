"""Benchmark: the lens catalog — cutouts per second against a bare ``model.predict`` on the same arrays.

Measured in one process, alternating, best of ``--repeat``:

* ``cutouts``: ``make_lens_catalog(cutouts=DIR)`` over ``--n`` multi-band FITS
  files (one per cutout, three image HDUs): lists and checks every header,
  reads and hashes every file, crops, streams the batches through the CNN,
  ranks against the reference scores (the model already loaded);
* ``positions``: ``make_lens_catalog(images=…, positions=…)`` with the same
  cutouts pasted on a grid into one large TAN image per band (hashes the
  images, locates every position, cuts with ``Cutout2D``);
* ``bare``: the same cutouts already in memory, ``model.predict(x,
  batch_size)`` for each fold model, averaged, Platt-scaled — what the
  catalog computes, without any I/O;
* ``on_batch``: the same with ``predict_on_batch`` batch by batch (as
  :class:`~skysieve.registry.CnnModel` scores: the tighter baseline).

Ratios are printed against both baselines (use ``--repeat`` ≥ 2: the first
``model.predict`` call includes tracing).

The model is ``models/lens/cnn`` (``dvc repro train_lens``), registered in a
scratch MLflow registry with the lens catalog config of ``--params``; the
cutouts are the first ``--n`` of ``data/lens/cutouts/cutouts.h5`` (repeated if
fewer).

Run: .venv/bin/python benchmarks/bench_lens_catalog.py [--n 1000] [--repeat 3] [--batch-size 512] [--workdir DIR]
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "bench-lens-cnn"


def _register(work: Path, params_path: Path) -> str:
    import mlflow
    import numpy as np

    from skysieve.config import load_params
    from skysieve.tasks.lens._catalog_config import lens_catalog_documents
    from skysieve.registry import register_cnn

    mlflow.set_tracking_uri(f"sqlite:///{work}/mlflow.db")
    state = {"thresholds": {"cnn": 0.5}, "operating_point": "fixed", "test_metrics": {"cnn": {"f1": 0.5}},
             "references": {"cnn_prob": np.random.default_rng(0).random(500).tolist()}}
    record = register_cnn(task="lens", models_dir=REPO / "models" / "lens" / "cnn", name=NAME, state=state,
                          provenance={"git.commit": "bench", "data.bench.md5": "bench"}, params={},
                          documents=lens_catalog_documents(load_params(params_path)))
    return f"models:/{NAME}/{record['version']}"


def _cutouts(n: int, size: int):
    import h5py
    import numpy as np

    path = REPO / "data" / "lens" / "cutouts" / "cutouts.h5"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; run `dvc repro cutouts_lens` (or `dvc pull`) first")
    with h5py.File(path) as h5:
        have = min(n, h5["images"].shape[0])
        x = np.asarray(h5["images"][:have], dtype=np.float32)
    if x.shape[1] != size:
        raise SystemExit(f"{path}: {x.shape[1]} px cutouts but the params say {size} px")
    return x[np.arange(n) % have]


def _write_inputs(work: Path, x, channels, pixel_arcsec: float):
    import numpy as np
    from astropy.io import fits
    from astropy.table import Table
    from astropy.wcs import WCS

    n, s = x.shape[0], x.shape[1]
    cut = work / "cutouts"
    cut.mkdir()
    side = int(np.ceil(np.sqrt(n)))
    big = side * s + 2 * s
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [big / 2 + 0.5, big / 2 + 0.5]
    wcs.wcs.crval = [150.0, 2.2]
    wcs.wcs.cdelt = [-pixel_arcsec / 3600, pixel_arcsec / 3600]
    header = wcs.to_header()
    header["BUNIT"] = "electron/s"
    images = np.zeros((len(channels), big, big), np.float32)
    xc, yc = np.empty(n), np.empty(n)
    for i in range(n):
        hdus = [fits.PrimaryHDU()]
        for c, band in enumerate(channels):
            h = header.copy()
            h["FILTER"] = band
            hdus.append(fits.ImageHDU(x[i, ..., c], header=h))
        fits.HDUList(hdus).writeto(cut / f"c{i:06d}.fits")
        x0, y0 = s + (i % side) * s, s + (i // side) * s
        images[:, y0: y0 + s, x0: x0 + s] = np.moveaxis(x[i], -1, 0)
        xc[i], yc[i] = x0 + (s - 1) / 2, y0 + (s - 1) / 2
    paths = []
    for c, band in enumerate(channels):
        h = header.copy()
        h["FILTER"] = band
        paths.append(work / f"field_{band}.fits")
        fits.PrimaryHDU(images[c], header=h).writeto(paths[-1])
    ra, dec = wcs.pixel_to_world_values(xc, yc)
    Table({"ra": ra, "dec": dec}).write(work / "positions.fits")
    return cut, paths, work / "positions.fits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if not (REPO / "models" / "lens" / "cnn" / "ensemble.json").is_file():
        raise SystemExit("models/lens/cnn: not found; run `dvc repro train_lens` first")
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    work = Path(tempfile.mkdtemp(prefix="bench-lens-")) if args.workdir is None else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    try:
        import numpy as np

        from skysieve.tasks.lens.catalog import load_lens_catalog_model, make_lens_catalog

        uri = _register(work, args.params)
        lm = load_lens_catalog_model(uri)
        x = _cutouts(args.n, lm.config.size_px)
        cut, images, positions = _write_inputs(work, x, lm.config.channels, lm.config.pixel_arcsec)
        ens = lm.cnn.ensemble

        def bare():
            raw = np.mean([np.asarray(m.predict(x, batch_size=args.batch_size, verbose=0)).reshape(-1)
                           for m in ens.models], axis=0)
            return ens.calibrator.predict_proba(raw) if ens.calibrator is not None else raw

        def bare_on_batch():
            out = []
            for start in range(0, len(x), args.batch_size):
                chunk = x[start: start + args.batch_size]
                out.append(np.mean([np.asarray(m.predict_on_batch(chunk)).reshape(-1) for m in ens.models], axis=0))
            raw = np.concatenate(out)
            return ens.calibrator.predict_proba(raw) if ens.calibrator is not None else raw

        runs = {
            "cutouts": lambda: make_lens_catalog(model=lm, cutouts=cut, batch_size=args.batch_size).table["score"],
            "positions": lambda: make_lens_catalog(model=lm, images=images, positions=positions,
                                                   batch_size=args.batch_size).table["score"],
            "bare": bare,
            "on_batch": bare_on_batch,
        }
        best = dict.fromkeys(runs, float("inf"))
        scores = {}
        for _ in range(args.repeat):
            for name, run in runs.items():
                t0 = time.perf_counter()
                scores[name] = np.asarray(run(), float)
                best[name] = min(best[name], time.perf_counter() - t0)
        rate = {k: args.n / v for k, v in best.items()}
        agree = max(float(np.max(np.abs(scores[k] - scores["bare"]))) for k in ("cutouts", "positions", "on_batch"))
        print(f"{args.n} cutouts of {x.shape[1:]} px, batch {args.batch_size}, best of {args.repeat}; "
              f"max |score − bare| = {agree:.2e}")
        for name in runs:
            print(f"  {name:<10}{rate[name]:>10.1f} cutouts/s  ({rate[name] / rate['bare']:.2f} × bare, "
                  f"{rate[name] / rate['on_batch']:.2f} × on_batch)")
        print(json.dumps({"n": args.n, "cutouts_per_s": rate, "ratio_cutouts": rate["cutouts"] / rate["bare"],
                          "ratio_positions": rate["positions"] / rate["bare"],
                          "ratio_cutouts_on_batch": rate["cutouts"] / rate["on_batch"],
                          "ratio_positions_on_batch": rate["positions"] / rate["on_batch"], "max_abs_diff": agree}))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
