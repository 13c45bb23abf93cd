"""Benchmark: how much of a training epoch the parameter-free input layers take (lens and members nets).

Every model begins with :func:`skysieve.nets.input_layers` — per-cutout
centring, the colour-difference images (lens), and the asinh stretch, whose
σ and median come from two sorts of the outer ring per channel.  They hold
no weights and, because the ring, the centred aperture and the spatial mean
are each mapped onto themselves by the rotations and flips the training
augmentation draws (the dihedral group D4 of a square cutout),

    head(g · x) = g · head(x)     for every g in D4,

up to the order of floating-point sums.  So a trainer could apply them once
per cutout and train the rest of the net on the stored result.  This script
measures what that would save, without changing the trainer:

1. ``full``: the search's model (``build_net`` with ``train_<task>.net`` of
   ``--params``, ``--filters`` overriding the width) fitted on ``--images``
   raw cutouts, best of ``--repeat`` epochs after an untimed one;
2. ``body``: the same architecture without the colour differences and the
   stretch, fitted on the same cutouts already passed through them once
   (it keeps the centring, which is a subtraction);
3. the largest |head(g·x) − g·head(x)| over the seven non-identity g,
   relative to the largest |head(x)|: the equivariance above, measured.

One TensorFlow thread, batches of ``--batch`` (as in a fold worker), on the
search's own cutouts, ``data/<task>/cutouts`` (``--task`` names any
registered search whose net has input layers to store).
Printed: seconds per epoch and the ratio full / body, measured in the same run.

With ``--fit EPOCHS`` (needs ``data/<task>/cutouts``) it also times the
engine's own fold fit (:func:`skysieve.train.fit_model`: batches streamed
from the cutout file, augmentation, the per-epoch validation scoring) on
the first fold of ``train_<task>``'s splitter, ``EPOCHS`` epochs without
early stopping, with ``store_inputs`` off and on, in the same process:
seconds per epoch from the fit's own clock, and the time to store the
inputs.

Run: .venv/bin/python benchmarks/bench_input_layers.py [--task lens] [--filters 12] [--images 512] [--fit 4]
"""

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cutouts(task: str, n: int):
    """The dataset ``data/<task>/cutouts`` (the search's own), its first ``n`` cutouts and their labels."""
    import numpy as np

    from skysieve.data.dataset import open_dataset

    directory = REPO / "data" / task / "cutouts"
    if not (directory / "cutouts.h5").is_file():
        raise SystemExit(f"{directory}: no cutouts; make them first (dvc repro cutouts_{task})")
    ds = open_dataset(directory)
    rows = np.arange(min(n, len(ds)))
    return ds, ds.read(rows), ds.labels[rows].astype("float32")


def _epoch(model, x, y, *, batch: int, repeat: int) -> float:
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # trace
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="lens", help="a registered search whose train section's net has input "
                    "layers to store (lens, members)")
    ap.add_argument("--params", default=str(REPO / "params.yaml"))
    ap.add_argument("--filters", type=int, default=None, help="first block's filters (default: the params')")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fit", type=int, default=0, metavar="EPOCHS", help="also time the engine's fold fit (0: skip)")
    args = ap.parse_args()
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from skysieve.config import load_params
    from skysieve.data.dihedral import dihedral
    from skysieve.nets import build_net
    from skysieve.nets._layers import preprocess
    from skysieve.nets._registry import InputSpec
    from skysieve.tasks import get_search

    get_search(args.task)  # a registered search, or an error listing them
    train = getattr(load_params(args.params), f"train_{args.task}")
    net = train.net.model_copy(update={"filters": args.filters}) if args.filters else train.net
    ds, x, y = _cutouts(args.task, args.images)

    def spec(a):
        return InputSpec(shape=a.shape[1:], mean=a.mean(axis=(0, 1, 2)), variance=a.var(axis=(0, 1, 2)))

    head = preprocess(x, net).astype("float32")
    worst = max(float(np.max(np.abs(preprocess(dihedral(x, k), net) - dihedral(head, k)))) for k in range(1, 8))
    scale = float(np.max(np.abs(head)))
    body_net = net.model_copy(update={"input_stretch": "none", "colour_difference": False})
    full = _epoch(build_net(net, inputs=spec(x), seed=1), x, y, batch=args.batch, repeat=args.repeat)
    body = _epoch(build_net(body_net, inputs=spec(head), seed=1), head, y, batch=args.batch, repeat=args.repeat)
    print(f"{args.task}: {len(x)} cutouts {x.shape[1:]} (data/{args.task}/cutouts) → input layers → {head.shape[1:]}; "
          f"net {net.name}, {net.filters} filters, batch {args.batch}, one thread")
    print(f"  epoch with the input layers: {full:.3f} s; body alone on stored inputs: {body:.3f} s; "
          f"ratio {full / body:.2f}× (input layers {100 * (1 - body / full):.0f} % of the epoch)")
    print(f"  D4 equivariance of the input layers: max |head(g·x) − g·head(x)| = {worst:.2e} "
          f"({worst / scale:.1e} of max |head(x)|)")
    if args.fit:
        _fit(args, train, ds)


def _fit(args, cfg, ds) -> None:
    from skysieve.train import fit_model
    from skysieve.train._split import make_folds

    fold = make_folds(ds, splitter=cfg.splitter, k=cfg.k_folds, seed=cfg.seed)[0]
    val_rows = ds.indices("val")  # the engine validates every fold on the val split
    update = {"epochs": args.fit, "schedule": cfg.schedule.model_copy(update={"early_stopping_patience": args.fit})}
    if args.filters:
        update["net"] = cfg.net.model_copy(update={"filters": args.filters})
    for store in (False, True):
        c = cfg.model_copy(update={**update, "store_inputs": store})
        t0 = time.perf_counter()
        fit = fit_model(c, ds, fit_rows=fold.fit_rows, val_rows=val_rows, seed=c.seed)
        total = time.perf_counter() - t0
        per = fit.train_seconds / len(fit.history)
        print(f"  fit_model, store_inputs={str(store).lower():5}: {len(fold.fit_rows)} fit / {len(val_rows)} val "
              f"cutouts, {len(fit.history)} epochs, {per:.2f} s per epoch; {total - fit.train_seconds:.1f} s outside the "
              f"epochs (model, statistics{', storing the inputs' if store else ''}); best val ROC-AUC "
              f"{max(h['val_roc_auc'] for h in fit.history):.3f}")
        if store:
            print(f"  ratio of seconds per epoch: {base / per:.2f}×")
        base = per


if __name__ == "__main__":
    main()
