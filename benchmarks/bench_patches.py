"""Benchmark: the SZ data stages over several sky patches — the cost per patch of simulate, cutouts, validate, mf.

Runs the four stage commands (``skysieve simulate sz``, ``cutouts sz``,
``validate sz``, ``mf sz``) in a scratch directory twice: once on one patch
(the baseline, cut by RA strips, ``split.by: ra``) and once on ``--patches``
patches split by patch (the default), with every other key from ``--params``.
Each stage's wall time is printed with its ratio to the one-patch baseline
measured in the same run, and per patch; linear scaling gives a ratio equal
to the number of patches (less for the training patches' subsampled
negatives, which shrink the cutout tensor).

Run: .venv/bin/python benchmarks/bench_patches.py --cl data/sz/cmb_cl.fits [--params params.yaml]
     [--patches 4] [--workdir DIR] [--out patches.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

STAGES = ("simulate", "cutouts", "validate", "mf")


def _commands(params: Path, cl: Path, root: Path) -> dict[str, list[str]]:
    exe = [sys.executable, "-m", "skysieve"]
    p, sky, cut = str(params), str(root / "sky"), str(root / "cutouts")
    return {
        "simulate": [*exe, "simulate", "sz", "--params", p, "--cl", str(cl), "--out", sky],
        "cutouts": [*exe, "cutouts", "sz", "--params", p, "--sky", sky, "--out", cut],
        "validate": [*exe, "validate", "sz", "--params", p, "--data", cut, "--sky", sky,
                     "--report", str(root / "validation.json")],
        "mf": [*exe, "mf", "sz", "--params", p, "--sky", sky, "--cl", str(cl), "--cutouts", cut,
               "--out", str(root / "mf")],
    }


def run_stages(base: dict, count: int, *, cl: Path, root: Path) -> dict[str, float]:
    """Wall time of each stage (seconds, including the interpreter start) on ``count`` patches."""
    params = dict(base)
    sim = dict(params.get("simulate_sz") or {})
    sim["patches"] = {**(sim.get("patches") or {}), "count": count}
    cut = dict(params.get("cutouts_sz") or {})
    cut["split"] = {**(cut.get("split") or {}), "by": "ra" if count == 1 else "patch"}
    params.update({"simulate_sz": sim, "cutouts_sz": cut})
    root.mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    times = {}
    for stage, cmd in _commands(root / "params.yaml", cl, root).items():
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        times[stage] = time.perf_counter() - t0
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cl", type=Path, default=Path("data/sz/cmb_cl.fits"))
    parser.add_argument("--patches", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    base = yaml.safe_load(args.params.read_text()) or {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        one = run_stages(base, 1, cl=args.cl.resolve(), root=Path(tmp) / "one")
        many = run_stages(base, args.patches, cl=args.cl.resolve(), root=Path(tmp) / "many")
    load = os.getloadavg()[0]
    print(f"{'stage':<10} {'1 patch [s]':>12} {f'{args.patches} patches [s]':>14} {'ratio':>7} {'per patch [s]':>14}")
    for stage in STAGES:
        print(f"{stage:<10} {one[stage]:>12.1f} {many[stage]:>14.1f} {many[stage] / one[stage]:>6.2f}× "
              f"{many[stage] / args.patches:>14.1f}")
    total1, totaln = sum(one.values()), sum(many.values())
    print(f"{'total':<10} {total1:>12.1f} {totaln:>14.1f} {totaln / total1:>6.2f}× {totaln / args.patches:>14.1f}")
    print(f"(1-minute load average at the end: {load:.1f} on {os.cpu_count()} cores)")
    if args.out:
        args.out.write_text(json.dumps({"patches": args.patches, "one": one, "many": many, "load": load}, indent=2))


if __name__ == "__main__":
    main()
