"""Benchmark: a VGG training step in float32 against Keras's ``mixed_bfloat16`` policy, on this CPU.

The figure behind the bfloat16 trials in ``docs/lens.md`` and
``docs/members.md`` (measured, not adopted: the option was removed).  A child
process per policy (the global dtype policy is set before any layer exists)
builds the same Angora-style VGG with plain Keras layers — ``--blocks``
blocks of ``--convs`` 3 × 3 convolutions with LeakyReLU, ``--filters``
doubling to 64, a 64-unit dense layer and a float32 sigmoid — on random
``--size``-px, five-channel cutouts, fits one untimed epoch (the trace),
then times the best of ``--repeats`` epochs of ``--images`` cutouts in
batches of 32 on one TensorFlow thread (as in the fold workers).  The ratio
is float32 / bfloat16 seconds, both measured in the same run.  bfloat16 is
fast only where the CPU has AVX512-BF16 / AMX (``lscpu``); elsewhere oneDNN
emulates it and the ratio falls below 1.

Run: .venv/bin/python benchmarks/bench_bfloat16.py [--size 80] [--filters 16] [--convs 2] [--images 512]
"""

import argparse
import json
import os
import subprocess
import sys


def _child(policy: str, args) -> float:
    import time

    import keras
    import numpy as np

    keras.config.set_dtype_policy(policy)
    inp = keras.Input((args.size, args.size, 5))
    x = inp
    for block in range(args.blocks):
        for _ in range(args.convs):
            x = keras.layers.Conv2D(min(args.filters * 2**block, 64), 3, padding="same")(x)
            x = keras.layers.LeakyReLU(negative_slope=0.3)(x)
        x = keras.layers.MaxPooling2D(padding="same")(x)
    x = keras.layers.Dense(64)(keras.layers.Flatten()(x))
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", dtype="float32")(x))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(args.images, args.size, args.size, 5)).astype("float32")
    ys = (rng.random(args.images) > 0.5).astype("float32")
    model.fit(xs, ys, batch_size=32, epochs=1, verbose=0)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.fit(xs, ys, batch_size=32, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=80, help="cutout side, px (the lens cutouts)")
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--convs", type=int, default=2, help="convolutions per block")
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args)))
        return
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    seconds = {}
    for policy in ("float32", "mixed_bfloat16"):
        argv = [sys.executable, __file__, "--child", policy] + [f"--{k}={getattr(args, k)}" for k in
                                                                 ("size", "filters", "convs", "blocks", "images",
                                                                  "repeats")]
        out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        seconds[policy] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'policy':>15s} {'s/epoch':>8s}  ({args.images} cutouts of {args.size} px, {args.filters} filters, "
          f"{args.convs} conv/block, 1 thread)")
    for policy, s in seconds.items():
        print(f"{policy:>15s} {s:8.2f}")
    print(f"float32 / bfloat16 = {seconds['float32'] / seconds['mixed_bfloat16']:.2f}×")


if __name__ == "__main__":
    main()
