"""Folds on worker processes: how busy one fold fit keeps the cores, and ``skysieve tune`` with and without workers.

Two measurements on a search's committed cutouts (``dvc checkout`` first):

1. *One fold fit*, in this process: ``fit_model`` of the search's
   ``train_<task>`` defaults on fold 0, ``--fold-epochs`` epochs; wall time,
   CPU time (all threads, ``time.process_time``) and their ratio, the cores
   kept busy. Near 1 on a multi-core host means fitting folds at once can pay.
2. *The search*: ``skysieve tune <task>`` as a real command, ``--trials``
   trials of ``--epochs`` epochs (other keys as in ``params.yaml``), once
   with ``fold_workers: 1`` (folds one after another, the baseline) and once
   with the default ``fold_workers: 0`` (one worker per core, at most k),
   alternating for ``--rounds`` rounds; each run has its own Optuna storage
   and MLflow store in a temporary directory (the repository's are not
   touched) and no hand-over. Wall time, CPU time of the command and its
   workers, and the ratio baseline / workers in the same round. The two
   must find the same best value (the folds are the same fits): exit status
   1 if they do not.

    .venv/bin/python benchmarks/bench_fold_workers.py [--task sz] [--trials 1] [--epochs 3] [--rounds 1]
        [--fold-epochs 2] [--json out.json]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def one_fold_fit(task: str, *, epochs: int, data: Path) -> dict:
    """Wall and CPU seconds of one fold fit of ``train_<task>`` (``epochs`` epochs) in this process."""
    from skysieve.config import load_params
    from skysieve.data.dataset import open_dataset
    from skysieve.train import fit_model, make_folds

    cfg = getattr(load_params(REPO / "params.yaml"), f"train_{task}")
    cfg = cfg.model_copy(update={"epochs": epochs})
    dataset = open_dataset(data)
    fold = make_folds(dataset, splitter=cfg.splitter, k=cfg.k_folds, seed=cfg.seed)[0]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fit = fit_model(cfg, dataset, fit_rows=fold.fit_rows, val_rows=dataset.indices("val"), seed=cfg.seed)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"task": task, "epochs": len(fit.history), "fit_rows": int(fold.fit_rows.size),
            "val_rows": int(dataset.indices("val").size), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "cores_busy": round(cpu / wall, 2), "fit_seconds": round(fit.train_seconds, 1)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_tune(task: str, *, workers: int, trials: int, epochs: int, data: Path, directory: Path) -> dict:
    """One ``skysieve tune <task>`` with ``fold_workers: workers`` in a fresh ``directory``: seconds, result."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params[f"train_{task}"].update({"epochs": epochs, "fold_workers": workers})
    params[f"tune_{task}"].update({"n_trials": trials})
    directory.mkdir(parents=True)
    (directory / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{directory}/mlflow.db"}
    cmd = [str(BIN / "skysieve"), "tune", task, "--params", "params.yaml", "--data", str(data), "--out", "best.json",
           "--storage", f"sqlite:///{directory}/optuna.db", "--no-handoff"]
    cpu0, wall0 = _children_cpu(), time.perf_counter()
    out = subprocess.run(cmd, cwd=directory, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - wall0, _children_cpu() - cpu0
    if out.returncode != 0:
        raise SystemExit(f"skysieve tune failed (fold_workers {workers}):\n{out.stderr[-4000:]}")
    best = json.loads((directory / "best.json").read_text())
    return {"fold_workers": workers, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "cores_busy": round(cpu / wall, 2), "best_value": best["best_value"], "n_complete": best["n_complete"],
            "n_pruned": best["n_pruned"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sz")
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fold in the search")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--fold-epochs", type=int, default=2, help="epochs of the single fold fit (0: skip it)")
    parser.add_argument("--data", type=Path, help="cutout directory (default data/<task>/cutouts)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    data = (args.data or REPO / "data" / args.task / "cutouts").resolve()
    if not (data / "cutouts.h5").is_file():
        raise SystemExit(f"{data}: no cutouts.h5; run `dvc checkout` (or `dvc repro cutouts_{args.task}`) first")

    figures: dict = {"cpu_count": os.cpu_count(), "load_average_1min_start": round(os.getloadavg()[0], 2)}
    if args.fold_epochs:
        figures["one_fold_fit"] = one_fold_fit(args.task, epochs=args.fold_epochs, data=data)
        print(json.dumps(figures["one_fold_fit"]), flush=True)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-fold-workers-") as tmp:
        for r in range(args.rounds):
            pair = {}
            for workers in (1, 0):
                pair[workers] = run_tune(args.task, workers=workers, trials=args.trials, epochs=args.epochs,
                                         data=data, directory=Path(tmp) / f"r{r}-w{workers}")
                print(json.dumps(pair[workers]), flush=True)
            rounds.append({"sequential": pair[1], "workers": pair[0],
                           "speedup": round(pair[1]["wall_s"] / pair[0]["wall_s"], 2)})
    figures.update({"task": args.task, "trials": args.trials, "epochs": args.epochs, "rounds": rounds,
                    "load_average_1min_end": round(os.getloadavg()[0], 2)})
    print(json.dumps(figures, indent=2))
    for r in rounds:
        print(f"| {args.task} | {args.trials} × {args.epochs} epochs | {r['sequential']['wall_s']:.0f} s "
              f"({r['sequential']['cores_busy']:.2f} cores) | {r['workers']['wall_s']:.0f} s "
              f"({r['workers']['cores_busy']:.2f} cores) | {r['speedup']:.2f}× |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    same = all(r["sequential"]["best_value"] == r["workers"]["best_value"] for r in rounds)
    if not same:
        print("the runs with and without workers found different best values", file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
