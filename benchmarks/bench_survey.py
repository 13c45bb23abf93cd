"""Benchmark: survey catalogs — fields per minute on the serial loop, one and two local Dask workers.

Measured in one run, on the same fields and the same registered model:

* ``serial``: :func:`skysieve.catalog.run_survey` with neither workers nor
  scheduler — one process, the fields one after the other (TensorFlow already
  imported here, the model loaded once inside the run);
* ``dask N``: a ``LocalCluster`` of N worker processes (one thread each), then
  ``run_survey(scheduler=…)``; each worker imports TensorFlow and loads the
  model once, on its first field.  The cluster's start-up (worker processes
  started, TensorFlow imported in each) is timed apart; fields per minute are
  given for the run alone (model loading included) and with the start-up, as
  ratios to the serial loop.

Peak memory: ``ru_maxrss`` of each worker process at the end of its run (and
of this process after the serial loop, which also holds the set-up).

Set-up (a scratch directory): the tiny hand-weighted SZ CNN and ensemble of
``tests/catalog/conftest.py`` registered in MLflow on SQLite, and ``--fields``
fields of ``--size``² pixels (0.25′, three bands, one cluster, white noise),
one directory each, none overlapping.

Run: .venv/bin/python benchmarks/bench_survey.py [--fields 8] [--size 320] [--workdir DIR]
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _register(work: Path) -> str:
    """The tests' hand-weighted CNN and ensemble, registered in a scratch registry."""
    import mlflow
    import numpy as np

    from skysieve.ensemble import Ensembles
    from skysieve.registry import log_cnn_model, register_ensemble, register_model_version
    from skysieve.tasks.sz._catalog_config import catalog_tags
    from tests.catalog.conftest import THRESHOLDS, catalog_params, save_cnn

    uri = f"sqlite:///{work}/mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("bench-survey", artifact_location=(work / "mlartifacts").as_uri())
    provenance = {"git.commit": "bench", "git.dirty": "false", "data.bench.md5": "bench"}
    with mlflow.start_run(experiment_id=exp):
        cnn_mv = register_model_version(log_cnn_model(save_cnn(work / "cnn")), "bench-survey-cnn", task="sz",
                                        test_metrics={"cnn": {"f1": 0.5}}, thresholds={"cnn": THRESHOLDS["cnn"]},
                                        provenance=provenance, primary_method="cnn")
        rng = np.random.default_rng(0)
        ens = Ensembles.from_state(THRESHOLDS, {"cnn_prob": np.linspace(0.0, 1.0, 1001),
                                                "mf_snr": rng.normal(0.0, 1.0, 4000)})
        metrics = {m: {"f1": 0.6} for m in ("mf", "cnn", "and", "rank_product")}
        mv = register_ensemble(ens, "bench-survey", task="sz", test_metrics=metrics, provenance=provenance,
                               cnn_model_uri=f"models:/bench-survey-cnn/{cnn_mv.version}",
                               tags=catalog_tags(catalog_params()))
    return f"models:/bench-survey/{mv.version}"


def _paint(work: Path, n: int, size: int) -> list[Path]:
    from tests.catalog.conftest import paint_sky
    from tests.conftest import make_car_wcs

    fields = []
    for k in range(n):
        d = work / "fields" / f"f{k:03d}"
        paint_sky(d, shape=(size, size), seed=100 + k, wcs=make_car_wcs((size, size), ra0=10.0 + 2.0 * k),
                  cluster_xy=(0.6 * size + 0.3, 0.45 * size + 0.6), source_xy=(size // 4, 3 * size // 4))
        fields.append(d)
    return fields


def _survey(ref, fields: list[Path], out: Path, **where) -> float:
    from skysieve.catalog import run_survey

    t0 = time.perf_counter()
    report = run_survey(ref, fields=fields, out=out, options=_options(), given=frozenset(), batch_size=512,
                        echo=lambda line: None, **where)
    wall = time.perf_counter() - t0
    if report.failed or len(report.done) != len(fields):
        raise SystemExit(f"survey failed: {report.failed}")
    return wall


def _options() -> dict:
    return {"maps": None, "stride_arcmin": None, "match_radius_arcmin": 1.0, "merge_radius_arcmin": None,
            "mf_block_px": 2048, "cl": None, "extra": []}


def _import_keras() -> None:
    import keras  # noqa: F401


def _dask(ref, fields: list[Path], out: Path, n_workers: int) -> dict:
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0") as lc, \
            Client(lc) as client:
        client.wait_for_workers(n_workers)
        client.run(_import_keras)  # a worker's start-up: TensorFlow imported (the model loads on its first field)
        start = time.perf_counter() - t0
        wall = _survey(ref, fields, out, scheduler=lc.scheduler_address)
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)
    return {"start": start, "wall": wall, "peaks": sorted(peaks.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=8)
    ap.add_argument("--size", type=int, default=320, help="field side, pixels of 0.25′")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-survey-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        import keras  # noqa: F401 - imported before the serial loop is timed, as a running catalog has it

        from skysieve.catalog import resolve_model

        ref = resolve_model(_register(work))
        fields = _paint(work, args.fields, args.size)
        n = len(fields)
        serial = _survey(ref, fields, work / "serial" / "survey.fits")
        serial_peak = _peak_gb()
        runs = {k: _dask(ref, fields, work / f"dask{k}" / "survey.fits", k) for k in (1, 2)}
        load = os.getloadavg()[0]
        print(f"{n} fields of {args.size}² px × 3 bands, {os.cpu_count()} CPUs, load average {load:.1f}")
        rate = 60.0 * n / serial
        print(f"{'run':<10}{'start s':>9}{'run s':>8}{'fields/min':>12}{'× serial':>10}{'with start':>12}"
              f"{'× serial':>10}  peak RSS per process (GB)")
        print(f"{'serial':<10}{0.0:>9.1f}{serial:>8.1f}{rate:>12.1f}{1.0:>10.2f}{rate:>12.1f}{1.0:>10.2f}  "
              f"{serial_peak:.2f} (this process, set-up included)")
        for k, r in runs.items():
            alone, full = 60.0 * n / r["wall"], 60.0 * n / (r["wall"] + r["start"])
            print(f"{f'dask {k}':<10}{r['start']:>9.1f}{r['wall']:>8.1f}{alone:>12.1f}{alone / rate:>10.2f}"
                  f"{full:>12.1f}{full / rate:>10.2f}  {', '.join(f'{p:.2f}' for p in r['peaks'])}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
