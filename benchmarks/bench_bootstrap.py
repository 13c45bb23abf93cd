"""Benchmark: the vectorised bootstrap against the brute-force loop over resamples with scikit-learn.

Target (issue 19): every reported figure carries a 95 % bootstrap interval,
so the intervals must cost little beside the evaluation itself.  For ``n``
test objects (5 % positive, tied scores as real SNRs have) and ``--n-boot``
resamples, this times, best of ``--repeat``:

* (a) :func:`skysieve.metrics.bootstrap_metrics`: purity, completeness, F1,
  accuracy, ROC-AUC and PR-AUC of every resample as weighted counts;
* (b) the baseline: the same resamples (:func:`bootstrap_indices`), each
  metric computed by :mod:`sklearn.metrics` on the resampled arrays.

Both give the same values (checked here to 1e-10); the ratio (b)/(a) is the
speed-up, measured in the same process on the same machine.

Run: .venv/bin/python benchmarks/bench_bootstrap.py [--n 740 3000] [--n-boot 1000] [--repeat 3]
"""

import argparse
import time

import numpy as np
from sklearn import metrics as skm

from skysieve.metrics import bootstrap_distribution, bootstrap_indices


def _brute(y: np.ndarray, s: np.ndarray, d: np.ndarray, idx: np.ndarray) -> dict[str, np.ndarray]:
    out = {k: [] for k in ("purity", "completeness", "f1", "accuracy", "roc_auc", "pr_auc")}
    for i in idx:
        yi, si, di = y[i], s[i], d[i]
        out["purity"].append(skm.precision_score(yi, di, zero_division=0))
        out["completeness"].append(skm.recall_score(yi, di, zero_division=0))
        out["f1"].append(skm.f1_score(yi, di, zero_division=0))
        out["accuracy"].append(skm.accuracy_score(yi, di))
        out["roc_auc"].append(skm.roc_auc_score(yi, si))
        out["pr_auc"].append(skm.average_precision_score(yi, si))
    return {k: np.asarray(v) for k, v in out.items()}


def _best(fn, repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[740, 3000])
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| test objects | resamples | vectorised [s] | sklearn loop [s] | speed-up |")
    print("|--:|--:|--:|--:|--:|")
    for n in args.n:
        rng = np.random.default_rng(0)
        y = rng.random(n) < 0.05
        s = np.round(rng.normal(2.5 * y, 1.0), 1)
        d = s >= 2.0
        fast_s, fast = _best(lambda: bootstrap_distribution(y, scores=s, decisions=d, n_boot=args.n_boot, seed=0),
                             args.repeat)
        idx = bootstrap_indices(y, n_boot=args.n_boot, seed=0)
        slow_s, slow = _best(lambda: _brute(y, s, d, idx), 1)
        for k in fast:
            np.testing.assert_allclose(fast[k], slow[k], atol=1e-10, err_msg=k)
        print(f"| {n} | {args.n_boot} | {fast_s:.3f} | {slow_s:.1f} | {slow_s / fast_s:.0f}× |")


if __name__ == "__main__":
    main()
