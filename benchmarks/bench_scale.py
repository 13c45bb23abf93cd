"""Shared-study scaling: the wall time of one Optuna study run by 1 worker, then by 2 workers at once.

Each worker is a real ``skysieve tune sz`` process; the workers share the
study through the storage (PostgreSQL when ``--storage`` or
``$SKYSIEVE_TEST_POSTGRES_URL`` names a server, else a SQLite file) and
MLflow on a SQLite file. The study is ``--trials`` trials of a tiny VGG
(one epoch, hold-out split) on 2000 synthetic cutouts, so the numbers show
the coordination overhead and how much a second process on the same host
adds; on separate GPU hosts each worker has its own device.

    .venv/bin/python benchmarks/bench_scale.py [--trials 8] [--storage postgresql://user@host/db]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _params(directory: Path, *, study: str, trials: int) -> None:
    params = {
        "train_sz": {"net": {"name": "vgg", "filters": 8, "blocks": 2, "convs_per_block": 1, "dense_units": 16},
                     "batch_size": 64, "epochs": 1, "splitter": "holdout", "norm_sample": 64, "experiment": study},
        "tune_sz": {"n_trials": trials, "startup_trials": trials, "pruner": "none", "study_name": study,
                    "search_space": {"optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2,
                                                                 "log": True}}},
    }
    (directory / "params.yaml").write_text(yaml.safe_dump(params))


def run_study(directory: Path, *, workers: int, trials: int, storage: str, data: Path) -> float:
    """Seconds from starting ``workers`` processes on a new study to the last one's exit."""
    study = f"bench-{workers}w-{uuid.uuid4().hex[:6]}"
    _params(directory, study=study, trials=trials)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{directory}/mlflow.db"}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([str(BIN / "skysieve"), "tune", "sz", "--params", "params.yaml", "--data", str(data),
                               "--out", f"{study}-{i}.json", "--storage", storage],
                              cwd=directory, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(workers)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"worker failed:\n{err[-3000:]}")
    seconds = time.perf_counter() - t0
    done = json.loads((directory / f"{study}-0.json").read_text())
    assert done["n_complete"] + done["n_pruned"] == trials, done
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--storage", default=os.environ.get("SKYSIEVE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.train._fixtures import write_tiny_dataset

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        data = write_tiny_dataset(directory / "cutouts", n=2000, size=32, seed=1)
        storage = args.storage or f"sqlite:///{directory}/optuna.db"
        if storage.startswith("postgres"):
            from sqlalchemy.engine import make_url

            from skysieve._server import ensure_database

            storage = make_url(storage).set(database="skysieve_bench").render_as_string(hide_password=False)
            ensure_database(storage)
        # Warm the MLflow store once, so neither run pays for creating its tables.
        subprocess.run([sys.executable, "-c", "import mlflow; mlflow.MlflowClient().search_experiments()"],
                       env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{directory}/mlflow.db"}, check=True)
        kind = storage.split(":", 1)[0]
        one = run_study(directory, workers=1, trials=args.trials, storage=storage, data=data)
        two = run_study(directory, workers=2, trials=args.trials, storage=storage, data=data)
    print(json.dumps({"trials": args.trials, "storage": kind, "cpus": os.cpu_count(),
                      "one_worker_s": round(one, 1), "two_workers_s": round(two, 1),
                      "speedup": round(one / two, 2)}, indent=2))


if __name__ == "__main__":
    main()
