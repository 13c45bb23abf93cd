"""Benchmark: the matched filter on the default three-band patch at 12 scales — time and peak memory.

Targets (issue 3): the filter (fit + 12 SNR maps + peak finding) within 3× the
cost of the FFTs it needs, measured in the same run, and under 4 GB peak.
The FFTs it needs are one forward transform per band (float64) and, per
scale, one forward transform of the template and one inverse transform
(float32): 3 + 2 × 12 = 27 transforms of the full map.

The maps are the default geometry (``simulate_sz.patch``) filled with white
noise at the DeepSZ levels and a CMB realisation (cost does not depend on
content); the noise spectra are estimated from the maps (the default).

Run: .venv/bin/python benchmarks/bench_mf.py [--params params.yaml]
"""

import argparse
import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np
import scipy.fft
from skysieve.config import load_params
from skysieve.data import SkyMaps, band_name
from skysieve.mf import build_matched_filter
from skysieve.sim.cmb import cmb_map
from skysieve.sim.instrument import white_noise
from skysieve.sim.sky import make_geometry
from astropy.table import Table

p = load_params(sys.argv[1])
bands = p.simulate_sz.bands
shape, wcs = make_geometry(p.simulate_sz.patch)
ell = np.arange(20001)
cl = np.zeros(ell.size); cl[2:] = 2 * np.pi * 6000 * np.exp(-(ell[2:] / 1000) ** 1.2) / (ell[2:] * (ell[2:] + 1))
rng = np.random.default_rng(0)
cmb = np.asarray(cmb_map(shape, wcs, Table({"ell": ell, "cl_tt": cl}), seed=rng))
data = np.stack([cmb + np.asarray(white_noise(shape, wcs, b.noise_uk_arcmin, seed=rng)) for b in bands])
maps = SkyMaps(data=data.astype(np.float32), wcs=wcs, bands=tuple(band_name(b.freq_ghz) for b in bands),
               freqs_ghz=tuple(b.freq_ghz for b in bands), unit="uK_CMB")
del cmb, data
n_scales = p.mf_sz.n_scales

# The FFTs the filter needs, and the filter itself (fit with the noise estimated from the maps, the
# 12 templates, the 12 SNR maps, the peak finding), timed alternately so both see the same machine load;
# best of 5 each.
x64 = maps.data.astype(np.float64)
x32 = maps.data[0].copy()
mf = build_matched_filter(p.mf_sz, bands=bands)
t_fft = t_mf = np.inf
for _ in range(5):
    t0 = time.perf_counter()
    scipy.fft.rfft2(x64, axes=(-2, -1))
    for _ in range(n_scales):
        k = scipy.fft.rfft2(x32)
        scipy.fft.irfft2(k, s=x32.shape)
    t_fft = min(t_fft, time.perf_counter() - t0)
    t0 = time.perf_counter()
    snr = mf.fit_transform(maps)
    det = mf.detections(snr)
    t_mf = min(t_mf, time.perf_counter() - t0)
    del snr
snr = mf.transform(maps)
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps({"shape": list(maps.data.shape), "n_scales": n_scales, "n_fft": len(bands) + 2 * n_scales,
                  "t_fft_s": t_fft, "t_mf_s": t_mf, "peak_gb": peak_gb, "n_det": len(det),
                  "snr_std": [float(s) for s in snr.std(axis=(1, 2))]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, args.params], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = r["t_mf_s"] / r["t_fft_s"]
    print(f"map: {r['shape']} (bands, ny, nx); {r['n_scales']} scales")
    print(f"the {r['n_fft']} FFTs the filter needs: {r['t_fft_s']:.2f} s")
    print(f"matched filter (fit + {r['n_scales']} SNR maps + peaks): {r['t_mf_s']:.2f} s = {ratio:.2f}× the FFTs "
          f"(target < 3×): {'OK' if ratio < 3 else 'TOO SLOW'}")
    print(f"peak memory (RSS): {r['peak_gb']:.2f} GB (target < 4 GB): {'OK' if r['peak_gb'] < 4 else 'TOO MUCH'}")
    std = r["snr_std"]
    print(f"SNR std on noise + CMB, per scale: {min(std):.3f} … {max(std):.3f}; {r['n_det']} false detections "
          "above the threshold")
    print(f"total wall time incl. setup: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
