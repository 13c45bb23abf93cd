"""Benchmark: seconds to log the morphology network with ``mlflow.keras.log_model``, requirements inferred vs pinned.

``log_model`` without ``pip_requirements`` infers them by loading the model
in a fresh Python process (TensorFlow imported again); skysieve passes the
pins of ``requirements.lock`` instead
(:func:`skysieve.registry._environment.flavour_requirements`).  Logs the
default ``pretrain_morphology.net`` ``--repeats`` times each way, alternating,
into a throw-away SQLite store, and prints both times and their ratio.

Run: .venv/bin/python benchmarks/bench_log_model.py [--repeats 2] [--params params.yaml]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    import mlflow
    import mlflow.keras
    import numpy as np
    from mlflow.models import infer_signature

    import skysieve.tasks  # noqa: F401  (registers the task nets)
    from skysieve.config import load_params
    from skysieve.nets import build_net
    from skysieve.registry._environment import flavour_requirements
    from skysieve.tasks.morphology.transfer import input_spec

    x = np.zeros((1, 80, 80, 1), dtype=np.float32)
    model = build_net(load_params(args.params).pretrain_morphology.net, inputs=input_spec(x), seed=1)
    signature = infer_signature(x, model.predict(x, verbose=0))
    times: dict[str, list[float]] = {"inferred": [], "pinned": []}
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        with mlflow.start_run():
            for i in range(args.repeats):
                for mode in times:
                    t0 = time.perf_counter()
                    if mode == "pinned":
                        with flavour_requirements({"keras": "benchmark"}) as reqs:
                            mlflow.keras.log_model(model, name=f"{mode}{i}", signature=signature,
                                                   pip_requirements=reqs)
                    else:
                        mlflow.keras.log_model(model, name=f"{mode}{i}", signature=signature)
                    times[mode].append(time.perf_counter() - t0)
    inferred, pinned = (statistics.median(times[m]) for m in ("inferred", "pinned"))
    print(f"log_model, requirements inferred: {inferred:.1f} s (runs {', '.join(f'{t:.1f}' for t in times['inferred'])})")
    print(f"log_model, requirements pinned:   {pinned:.1f} s (runs {', '.join(f'{t:.1f}' for t in times['pinned'])})")
    print(f"ratio inferred / pinned: {inferred / pinned:.1f}×")


if __name__ == "__main__":
    main()
