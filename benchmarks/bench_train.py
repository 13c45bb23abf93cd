"""Training throughput: the skysieve engine (streaming from HDF5) vs a bare ``model.fit`` on in-memory arrays.

Both train the same ``resnet_small`` (the ``train_sz`` defaults unless
overridden) on the same synthetic SZ-like cutouts in one process; epoch wall
times after the first (tracing) epoch give images per second. The engine's
epochs include everything it does: HDF5 reads, augmentation, sample weights
and the per-epoch validation pass; the bare fit only trains.

    .venv/bin/python benchmarks/bench_train.py [--n 4096] [--epochs 4] [--batch-size 64]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from astropy.table import Table  # noqa: E402


def write_dataset(directory: Path, *, n: int, size: int, seed: int) -> Path:
    """``n`` 3-band cutouts of µK-scale noise; ~7 % positives with a central decrement; 10 % val."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    labels = (rng.random(n) < 0.07).astype(np.int16)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    blob = np.exp(-(xx**2 + yy**2) / (2 * 2.0**2))[..., None] * np.array([-1.0, -0.6, 0.5])
    with h5py.File(directory / "cutouts.h5", "w") as h5:
        ds = h5.create_dataset("images", shape=(n, size, size, 3), dtype="float32", chunks=(1, size, size, 3))
        ds.attrs["channels"] = ["90GHz", "148GHz", "219GHz"]
        for start in range(0, n, 1024):
            stop = min(n, start + 1024)
            x = rng.normal(0, 30, (stop - start, size, size, 3)).astype(np.float32)
            x += (60 * labels[start:stop, None, None, None] * blob).astype(np.float32)
            ds[start:stop] = x
    split = np.where(rng.random(n) < 0.1, "val", "train")
    Table({"id": np.arange(n), "ra": np.linspace(0, 10, n), "dec": np.zeros(n), "label": labels,
           "split": split, "group": (np.arange(n) // 64).astype(str)}).write(directory / "catalog.fits")
    return directory


def _rate(stamps: list[float], images_per_epoch: int) -> float:
    durations = np.diff(stamps)[1:]  # drop the first epoch: it traces the graphs
    return float(images_per_epoch / np.median(durations))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="cutouts in the synthetic dataset")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import keras

    from skysieve.config import TrainParams
    from skysieve.data.dataset import open_dataset
    from skysieve.nets import InputSpec, build_net
    from skysieve.train import channel_stats, fit_model, make_optimizer, set_seeds

    cfg = TrainParams(epochs=args.epochs, batch_size=args.batch_size, experiment="bench",
                      schedule={"early_stopping_patience": 100})
    with tempfile.TemporaryDirectory() as tmp:
        dataset = open_dataset(write_dataset(Path(tmp) / "cutouts", n=args.n, size=args.size, seed=0))
        fit_rows, val_rows = dataset.indices("train"), dataset.indices("val")
        steps = fit_rows.size // args.batch_size
        images = steps * args.batch_size

        stamps: list[float] = []
        t0 = time.perf_counter()
        stamps.append(t0)
        fit_model(cfg, dataset, fit_rows=fit_rows, val_rows=val_rows, seed=cfg.seed,
                  on_epoch=lambda step, logs: stamps.append(time.perf_counter()))
        engine = _rate(stamps, images)

        # Bare fit: same model and optimiser, the training rows in memory, no validation.
        x, y = dataset.read(fit_rows[:images]), dataset.labels[fit_rows[:images]].astype("float32")
        set_seeds(cfg.seed)
        mean, var = channel_stats(dataset, fit_rows, sample=cfg.norm_sample, seed=cfg.seed)
        model = build_net(cfg.net, inputs=InputSpec(tuple(dataset.shape[1:]), mean, var), seed=cfg.seed)
        model.compile(optimizer=make_optimizer(cfg.optimizer), loss="binary_crossentropy")
        bare_stamps = [time.perf_counter()]
        model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
                  callbacks=[keras.callbacks.LambdaCallback(
                      on_epoch_end=lambda epoch, logs: bare_stamps.append(time.perf_counter()))])
        bare = _rate(bare_stamps, images)

    figures = {"n_cutouts": args.n, "size": args.size, "train_images_per_epoch": images, "val_images": int(val_rows.size),
               "batch_size": args.batch_size, "epochs": args.epochs, "net": cfg.net.name,
               "params": int(model.count_params()), "backend": keras.config.backend(),
               "engine_images_per_s": round(engine, 1), "bare_fit_images_per_s": round(bare, 1),
               "ratio": round(engine / bare, 3), "cpu_count": os.cpu_count()}
    print(json.dumps(figures, indent=2))
    print(f"| {figures['net']} | {args.size}×{args.size}×3 | {args.batch_size} | {engine:.0f} | {bare:.0f} | "
          f"{100 * engine / bare:.0f} % |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    sys.exit(0 if main()["ratio"] >= 0.8 else 1)
