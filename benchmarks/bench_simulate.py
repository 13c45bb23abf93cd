"""Benchmark: the default SZ sky simulation — wall time and peak memory.

Targets (issue 2): under 2 minutes and under 4 GB peak on a 2-core CPU.
The figure is also printed as a ratio to a baseline measured in the same run —
a forward + inverse FFT of one band of the same map (the unit of work a
beam convolution costs) — because these machines are shared and noisy.

Run: .venv/bin/python benchmarks/bench_simulate.py [--params params.yaml]
"""

import argparse
import json
import resource
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np
from astropy.table import Table
from skysieve.config import load_params
from skysieve.sim import compute_cmb_spectrum, simulate_sky
from skysieve.sim.sky import make_geometry

p = load_params(sys.argv[1])
t0 = time.perf_counter()
cl = compute_cmb_spectrum(p.cosmology, p.cmb_spectrum)
t_camb = time.perf_counter() - t0
shape, wcs = make_geometry(p.simulate_sz.patch)
x = np.random.default_rng(0).normal(size=shape[-2:])
t0 = time.perf_counter()
for _ in range(3):
    np.fft.irfft2(np.fft.rfft2(x), s=x.shape)
t_fft = (time.perf_counter() - t0) / 3
t0 = time.perf_counter()
sky = simulate_sky(p.simulate_sz, p.cosmology, cl=cl, seed=p.simulate_sz.seed)
t_sim = time.perf_counter() - t0
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps({"shape": list(sky.maps.shape), "halos": len(sky.halos), "sources": len(sky.sources),
                  "t_camb_s": t_camb, "t_fft_s": t_fft, "t_sim_s": t_sim, "peak_gb": peak_gb}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, args.params], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"map: {r['shape']} (bands, ny, nx); {r['halos']} halos, {r['sources']} point sources")
    print(f"CAMB spectrum (cached stage output, once): {r['t_camb_s']:.1f} s")
    print(f"baseline one-band FFT pair: {r['t_fft_s'] * 1e3:.1f} ms")
    print(f"simulate_sky: {r['t_sim_s']:.1f} s = {r['t_sim_s'] / r['t_fft_s']:.0f}× the baseline FFT pair "
          f"(target < 120 s): {'OK' if r['t_sim_s'] < 120 else 'TOO SLOW'}")
    print(f"peak memory (RSS): {r['peak_gb']:.2f} GB (target < 4 GB): {'OK' if r['peak_gb'] < 4 else 'TOO MUCH'}")
    print(f"total wall time incl. imports: {time.perf_counter() - t0:.1f} s; parent RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
