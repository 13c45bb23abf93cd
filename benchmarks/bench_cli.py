"""Benchmark: start-up of the command line now that it is built from the search registry.

``skysieve --help`` loads the ``skysieve.tasks`` entry points, composes every
search's commands and catalog options, and must stay fast (no TensorFlow,
MLflow or lenstronomy on the way). Each command is timed as a fresh process,
best of ``--repeat``, and reported as a ratio to the baseline measured in the
same run: a Python process that imports typer (what any Typer CLI pays).

With ``--old-src DIR`` (the ``src`` of a checkout from before the plug-in
move, e.g. ``git worktree add /tmp/old 3530d09``) the old, static command
line's ``--help`` is timed too, in the same run.

Run: .venv/bin/python benchmarks/bench_cli.py [--repeat 5] [--old-src /tmp/old/src]
"""

import argparse
import os
import subprocess
import sys
import time

CASES = {
    "baseline: python -c 'import typer'": [sys.executable, "-c", "import typer"],
    "skysieve --help": [sys.executable, "-c", "import sys; sys.argv=['skysieve','--help']; "
                        "from skysieve.cli import main; main()"],
    "skysieve catalog --help": [sys.executable, "-c", "import sys; sys.argv=['skysieve','catalog','--help']; "
                                "from skysieve.cli import main; main()"],
    "skysieve tasks": [sys.executable, "-c", "import sys; sys.argv=['skysieve','tasks']; "
                       "from skysieve.cli import main; main()"],
    "skysieve pipeline check": [sys.executable, "-c", "import sys; sys.argv=['skysieve','pipeline','check']; "
                                "from skysieve.cli import main; main()"],
}


def best_of(cmd: list[str], repeat: int, env: dict | None = None) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--old-src", help="src/ of a checkout before the plug-in move: time its --help too")
    args = ap.parse_args()
    results = {name: best_of(cmd, args.repeat) for name, cmd in CASES.items()}
    if args.old_src:
        env = {**os.environ, "PYTHONPATH": args.old_src}
        results["old static CLI: skysieve --help"] = best_of(CASES["skysieve --help"], args.repeat, env)
    base = next(iter(results.values()))
    print(f"{'command':<34}{'best (s)':>10}{'× baseline':>12}")
    for name, t in results.items():
        print(f"{name:<34}{t:>10.3f}{t / base:>12.2f}")


if __name__ == "__main__":
    main()
