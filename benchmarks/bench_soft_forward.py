"""Benchmark: scoring a validation split with the morphology net, eager calls against ``predict_on_batch``.

Every epoch of a soft fit (:mod:`skysieve.train._soft`) scores the
validation split.  ``model(x, training=False)`` runs eagerly: Keras walks the
layer graph in Python and TensorFlow dispatches op by op.
``predict_on_batch`` runs the model's traced predict step.  For each thread
count (1, as in the transfer-experiment workers, and TensorFlow's default) a
fresh process builds the default morphology net (``pretrain_morphology.net``)
on random 80×80 stamps, checks that the two ways give the same numbers to the
last bit, and times the best of ``--repeats`` passes over ``--images``
images in batches of 128 (the validation batch), after one untimed pass
each (the trace).  The ratio is eager / traced, measured in the same process.

Run: .venv/bin/python benchmarks/bench_soft_forward.py [--params params.yaml] [--images 240] [--repeats 7]
"""

import argparse
import json
import os
import subprocess
import sys

BATCH = 128


def _child(params: str, images: int, repeats: int) -> dict:
    import time

    import keras
    import numpy as np

    import skysieve.tasks.morphology.net  # noqa: F401  (registers the net)
    from skysieve.config import load_params
    from skysieve.nets import InputSpec, build_net

    loaded = load_params(params)
    px = loaded.simulate_morphology.stamp_px
    x = np.random.default_rng(0).normal(size=(images, px, px, 1)).astype("float32")
    spec = InputSpec((px, px, 1), x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2)), ("stamp",))
    model = build_net(loaded.pretrain_morphology.net, inputs=spec, seed=0)

    def eager():
        return np.concatenate([keras.ops.convert_to_numpy(model(x[i: i + BATCH], training=False))
                               for i in range(0, len(x), BATCH)])

    def traced():
        return np.concatenate([np.asarray(model.predict_on_batch(x[i: i + BATCH])) for i in range(0, len(x), BATCH)])

    t0 = time.perf_counter()
    first = traced()
    trace_s = time.perf_counter() - t0
    same = bool(np.array_equal(eager(), first))
    best = {}
    for name, fn in (("eager", eager), ("traced", traced)):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        best[name] = min(times)
    return {"same": same, "trace_s": trace_s, **best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--images", type=int, default=240, help="images per pass (default: the target validation split)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.params, args.images, args.repeats)))
        return
    print(f"{'TF threads':>10s} {'eager':>9s} {'traced':>9s} {'ratio':>6s} {'first traced pass':>18s} bitwise same")
    for threads in ("1", "default"):
        env = dict(os.environ)
        if threads != "default":
            env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = threads
        out = subprocess.run([sys.executable, __file__, "--params", args.params, "--images", str(args.images),
                              "--repeats", str(args.repeats), "--child"], capture_output=True, text=True, check=True,
                             env=env)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{threads:>10s} {r['eager']:8.3f}s {r['traced']:8.3f}s {r['eager'] / r['traced']:6.2f} "
              f"{r['trace_s']:17.2f}s {r['same']}")


if __name__ == "__main__":
    main()
