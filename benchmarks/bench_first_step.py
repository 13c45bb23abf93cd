"""Benchmark: the first training step of a new network, with the optimizer built lazily (Keras) or up front.

With the TensorFlow backend Keras creates the optimizer's variables inside the
first traced training step, and TensorFlow traces a function that creates
variables twice; :func:`skysieve.train._compile.compile_built` creates them at
compile time.  For each network (the SZ, lens and morphology nets of a params
file, on normal random inputs of their default shapes) a fresh process builds
it, compiles it one way or the other and times its first ``train_on_batch``
(trace + first run) and the mean of the next 30; the two ways alternate,
``--repeats`` times each.  The ratio is lazy / up front, measured in the same
run.

Run: .venv/bin/python benchmarks/bench_first_step.py [--params params.yaml] [--repeats 2]
"""

import argparse
import json
import subprocess
import sys

NETS = {  # params section → (default input shape, output units: 1 = a sigmoid, else a softmax over soft targets)
    "train_sz": ((32, 32, 3), 1),
    "train_lens": ((80, 80, 3), 1),
    "pretrain_morphology": ((80, 80, 1), 5),
}


STEPS = 30  # timed after the first


def _child(params: str, section: str, up_front: bool) -> dict:
    import time

    import keras
    import numpy as np

    from skysieve.config import load_params
    from skysieve.nets import InputSpec, build_net, preprocess
    from skysieve.train._compile import compile_built

    shape, units = NETS[section]
    loaded = load_params(params)
    cfg = getattr(loaded, section)
    if section == "pretrain_morphology":  # the search registers its net; the stamps' size is a param
        import skysieve.tasks.morphology.net  # noqa: F401

        shape = (loaded.simulate_morphology.stamp_px,) * 2 + (1,)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, *shape)).astype("float32")
    stats = preprocess(x, cfg.net)  # the channels the model standardises (colour differences included)
    spec = InputSpec(shape, stats.mean(axis=(0, 1, 2)), stats.var(axis=(0, 1, 2)),
                     tuple(f"b{i}" for i in range(shape[-1])))
    model = build_net(cfg.net, inputs=spec, seed=0)
    loss = keras.losses.BinaryCrossentropy() if units == 1 else keras.losses.CategoricalCrossentropy()
    optimizer = keras.optimizers.Adam(1e-3)
    if up_front:
        compile_built(model, optimizer=optimizer, loss=loss)
    else:
        model.compile(optimizer=optimizer, loss=loss)
    y = np.full((32, units), 1.0 / max(units, 2) if units > 1 else 0.0, "float32")
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(STEPS):
        model.train_on_batch(x, y)
    return {"first_s": first, "step_s": (time.perf_counter() - t0) / STEPS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--child", nargs=2, metavar=("SECTION", "UP_FRONT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.params, args.child[0], args.child[1] == "1")))
        return
    print(f"{'network':22s} {'lazy first step':>16s} {'up front':>10s} {'ratio':>6s} {'later steps (lazy / up front)':>30s}")
    for section in NETS:
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for _ in range(args.repeats):
            for up_front in (False, True):
                out = subprocess.run([sys.executable, __file__, "--params", args.params, "--child", section,
                                      str(int(up_front))], capture_output=True, text=True, check=True)
                runs[up_front].append(json.loads(out.stdout.strip().splitlines()[-1]))
        lazy = min(r["first_s"] for r in runs[False])
        built = min(r["first_s"] for r in runs[True])
        steps = (min(r["step_s"] for r in runs[False]), min(r["step_s"] for r in runs[True]))
        print(f"{section:22s} {lazy:15.2f}s {built:9.2f}s {lazy / built:6.2f} "
              f"{steps[0] * 1e3:17.0f} / {steps[1] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
