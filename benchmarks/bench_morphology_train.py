"""Benchmark: training images per second of the default morphology net, one process vs two.

Trains the default ``pretrain_morphology.net`` (the narrow Table 1 Inception
net on 80×80 stamps) with Adam and cross-entropy on random stamps and soft
targets, timing ``--steps`` optimiser steps after a warm-up, in three modes
measured in the same run:

* **baseline** — one process, batch 32 (what ``pretrain``/``finetune`` do);
* one process, batch 128 (larger batches let TensorFlow's intra-op threads
  use the second core);
* two processes at once, batch 32 each, TensorFlow's default threads (one
  per core in each: what ``experiments_morphology`` did before ``fit_threads``);
* two processes at once, batch 32 each, one TensorFlow thread each (what
  ``experiments_morphology`` does with ``workers: 0, fit_threads: 1`` on two cores).

It reports images/s (all processes together), cores busy (CPU time / wall
time) and the ratio to the baseline.  The morphology part's time is set by
how many training images it sees (``docs/morphology.md``, "Time"): this
gives the rate to divide them by.

Run: .venv/bin/python benchmarks/bench_morphology_train.py [--steps 20] [--params params.yaml]
"""

import argparse
import json
import subprocess
import sys
import time


def _one(params: str, batch: int, steps: int, threads: int = 0) -> dict:
    """Time ``steps`` training steps at ``batch`` in this process; images/s and cores busy."""
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    import numpy as np

    import skysieve.tasks  # noqa: F401  (registers the task nets)
    from skysieve.config import load_params
    from skysieve.nets import build_net
    from skysieve.tasks.morphology.transfer import input_spec

    pre = load_params(params).pretrain_morphology
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * steps, 80, 80, 1)).astype(np.float32)
    y = rng.dirichlet(np.ones(5), batch * steps).astype(np.float32)
    model = build_net(pre.net, inputs=input_spec(x), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(pre.learning_rate), loss="categorical_crossentropy")
    for i in range(3):  # trace and warm up
        model.train_on_batch(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(steps):
        model.train_on_batch(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"images_per_s": batch * steps / wall, "cores": cpu / wall, "wall_s": wall}


def _spawn(params: str, batch: int, steps: int, threads: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--child", "--params", params, "--batch", str(batch),
                             "--steps", str(steps), "--threads", str(threads)], stdout=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"benchmark child failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per mode (batch 128: a quarter as many)")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--batch", type=int, default=32, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one(args.params, args.batch, args.steps, args.threads)))
        return
    rows = []
    for _ in range(2):  # alternate the modes twice: the machine is shared and its speed drifts
        base = _result(_spawn(args.params, 32, args.steps))
        big = _result(_spawn(args.params, 128, max(args.steps // 4, 3)))
        pairs = []
        for threads in (0, 1):
            procs = [_spawn(args.params, 32, args.steps, threads) for _ in range(2)]
            two = [_result(p) for p in procs]
            pairs.append({"images_per_s": sum(r["images_per_s"] for r in two),
                          "cores": sum(r["cores"] for r in two)})
        rows.append((base, big, *pairs))
    print("| mode | images/s | cores busy | × baseline |\n|---|--:|--:|--:|")
    for name, i in (("one process, batch 32 (baseline)", 0), ("one process, batch 128", 1),
                    ("two processes, batch 32 each", 2), ("two processes, batch 32 each, one thread each", 3)):
        rates = [r[i]["images_per_s"] for r in rows]
        ratios = [r[i]["images_per_s"] / r[0]["images_per_s"] for r in rows]
        cores = [r[i]["cores"] for r in rows]
        print(f"| {name} | {min(rates):.0f}–{max(rates):.0f} | {min(cores):.2f}–{max(cores):.2f} | "
              f"{min(ratios):.2f}–{max(ratios):.2f} |")


if __name__ == "__main__":
    main()
