"""Training throughput: the skysieve engine (streaming from HDF5) vs a bare ``model.fit`` on in-memory arrays.

Both train the same ``resnet_small`` (the ``train_sz`` defaults) on the same
synthetic SZ-like cutouts in one process. The engine's epochs include
everything it does: HDF5 reads, augmentation, class weights and the
per-epoch validation pass; the bare fit only trains. Engine and bare fits
alternate for ``--rounds`` rounds and each side's fastest epoch (never the
first of a fit, which traces the graphs) gives its images per second, so a
busy shared CPU slows both alike rather than one; images per CPU-second
(process time, all threads) are reported too, as a load-independent check.
Exit status 1 if the engine is below 80 % of the bare fit (wall clock).

    .venv/bin/python benchmarks/bench_train.py [--n 4096] [--epochs 3] [--rounds 3] [--batch-size 64]
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


def _durations(stamps: list[float]) -> list[float]:
    return list(np.diff(stamps)[1:])  # drop the first epoch: it traces the graphs


def _stamp(wall: list[float], cpu: list[float]) -> None:
    wall.append(time.perf_counter())
    cpu.append(time.process_time())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="cutouts in the synthetic dataset")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
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

        x, y = dataset.read(fit_rows[:images]), dataset.labels[fit_rows[:images]].astype("float32")
        engine_epochs: list[float] = []
        bare_epochs: list[float] = []
        engine_cpu: list[float] = []
        bare_cpu: list[float] = []
        for _ in range(args.rounds):
            stamps: list[float] = []
            cpu: list[float] = []
            _stamp(stamps, cpu)
            fit_model(cfg, dataset, fit_rows=fit_rows, val_rows=val_rows, seed=cfg.seed,
                      on_epoch=lambda step, logs: _stamp(stamps, cpu))
            engine_epochs += _durations(stamps)
            engine_cpu += _durations(cpu)

            # Bare fit: same model and optimiser, the training rows in memory, no validation.
            set_seeds(cfg.seed)
            mean, var = channel_stats(dataset, fit_rows, sample=cfg.norm_sample, seed=cfg.seed, net=cfg.net)
            model = build_net(cfg.net, inputs=InputSpec(tuple(dataset.shape[1:]), mean, var), seed=cfg.seed)
            model.compile(optimizer=make_optimizer(cfg.optimizer), loss="binary_crossentropy")
            stamps, cpu = [], []
            _stamp(stamps, cpu)
            model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
                      callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: _stamp(stamps, cpu))])
            bare_epochs += _durations(stamps)
            bare_cpu += _durations(cpu)
            keras.backend.clear_session()
        engine, bare = images / min(engine_epochs), images / min(bare_epochs)
        engine_median, bare_median = images / np.median(engine_epochs), images / np.median(bare_epochs)
        engine_per_cpu, bare_per_cpu = images / np.median(engine_cpu), images / np.median(bare_cpu)

    figures = {"n_cutouts": args.n, "size": args.size, "train_images_per_epoch": images, "val_images": int(val_rows.size),
               "batch_size": args.batch_size, "epochs": args.epochs, "net": cfg.net.name,
               "params": int(model.count_params()), "backend": keras.config.backend(),
               "engine_images_per_s": round(engine, 1), "bare_fit_images_per_s": round(bare, 1),
               "ratio": round(engine / bare, 3), "engine_median_images_per_s": round(engine_median, 1),
               "bare_fit_median_images_per_s": round(bare_median, 1),
               "engine_images_per_cpu_s": round(engine_per_cpu, 1), "bare_fit_images_per_cpu_s": round(bare_per_cpu, 1),
               "cpu_ratio": round(engine_per_cpu / bare_per_cpu, 3), "rounds": args.rounds,
               "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(figures, indent=2))
    print(f"| {figures['net']} | {args.size}×{args.size}×3 | {args.batch_size} | {engine:.0f} | {bare:.0f} | "
          f"{100 * engine / bare:.0f} % | {100 * engine_per_cpu / bare_per_cpu:.0f} % |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    sys.exit(0 if main()["ratio"] >= 0.8 else 1)
