"""Benchmark: detect survey inference — square degrees per minute per core against a bare ``model.predict``.

Set-up: the default ``train_detect`` network (``centre_net``) built from
params with random weights (its quality does not matter, its cost does), and
a simulated survey image of ``--fields`` × ``--fields`` default fields
(``simulate_detect``: g, r, i at the stored pixel scale, clusters, galaxies,
stars, noise) pasted side by side into one image with one TAN WCS.

Timed, alternating, best of ``--repeat``: (a) :func:`skysieve.tasks.detect.survey.detect_image`
— binning check, windows with a quarter-window overlap, per-window stretch,
the model, heatmap decoding, non-maximum suppression on the sky — once plain and once with test-time
augmentation (``tta``: the maps averaged over each window's 8 rotations and flips, as
``evaluate_detect.tta`` and a version's ``detect.tta`` tag ask); (b) the bare
baseline: the same windows already stretched and in memory,
``model.predict(x, batch_size=16)``, and (c) the same with ``predict_on_batch``
batch by batch (the tighter baseline: ``model.predict`` pays a per-call set-up).  Both run on every core TensorFlow is
given (``--threads``, default all); the rate is divided by that count.

Run: .venv/bin/python benchmarks/bench_detect_survey.py [--params params.yaml] [--fields 3] [--repeat 3]
"""

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml")
    ap.add_argument("--fields", type=int, default=3, help="the survey image is fields × fields default fields")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    os.environ.setdefault("SKYSIEVE_TASKS", "skysieve.tasks.detect:search")

    from skysieve.config import load_params
    from skysieve.nets import InputSpec, build_net
    from skysieve.tasks.detect._fits import field_wcs
    from skysieve.tasks.detect.dataset import stretch
    from skysieve.tasks.detect.sim import simulate_field
    from skysieve.tasks.detect.survey import detect_image, window_starts

    p = load_params(args.params)
    s, c, t = p.simulate_detect, p.cutouts_detect, p.train_detect
    size, scale = s.native_size_px // s.bin, s.native_pixel_arcsec * s.bin
    bands = [b.name for b in s.bands]
    big = np.zeros((size * args.fields, size * args.fields, len(bands)), np.float32)
    for k in range(args.fields**2):
        f = simulate_field(s, cosmo=p.cosmology, index=k, n_clusters=k % 4, centre=(150.0, 2.0), seed=k)
        i, j = divmod(k, args.fields)
        big[i * size:(i + 1) * size, j * size:(j + 1) * size] = np.stack([f.images[b] for b in bands], -1)
    wcs = field_wcs(ra_deg=150.0, dec_deg=2.0, size_px=big.shape[0], pixel_arcsec=scale)
    model = build_net(t.net, inputs=InputSpec((size, size, len(bands)), np.zeros(3), np.ones(3)), seed=0)
    overlap = size // 4
    starts = window_starts(big.shape[0], window=size, step=size - overlap)
    windows = np.stack([stretch(big[y:y + size, x:x + size], kind=c.stretch) for y in starts for x in starts])
    area_deg2 = big.shape[0] * big.shape[1] * (scale / 3600) ** 2

    def ours(tta=False):
        return detect_image(big, wcs, pixel_arcsec=scale, models=[model], window_px=size, model_arcsec=scale,
                            stride=c.output_stride, stretch_kind=c.stretch, softening=c.asinh_softening,
                            min_score=0.02, max_per_window=20, overlap_px=overlap, nms_arcsec=54.0, batch_size=16,
                            tta=tta)

    def ours_tta():
        return ours(tta=True)

    def bare():
        return model.predict(windows, batch_size=16, verbose=0)

    def bare_batches():
        return [model.predict_on_batch(windows[i:i + 16]) for i in range(0, len(windows), 16)]

    ours(), ours_tta(), bare(), bare_batches()  # trace once
    runs = (("detect_image", ours), ("detect_image, tta", ours_tta), ("model.predict", bare),
            ("predict_on_batch", bare_batches))
    best = {name: np.inf for name, _ in runs}
    for _ in range(args.repeat):
        for name, fn in runs:
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    rate = {k: area_deg2 / (v / 60.0) / args.threads for k, v in best.items()}
    print(json.dumps({"area_deg2": area_deg2, "windows": len(windows), "threads": args.threads,
                      "seconds": best, "deg2_per_min_per_core": rate,
                      "ratio_to_bare": rate["detect_image"] / rate["model.predict"],
                      "ratio_to_predict_on_batch": rate["detect_image"] / rate["predict_on_batch"],
                      "tta_ratio_to_plain": rate["detect_image, tta"] / rate["detect_image"]}, indent=1))


if __name__ == "__main__":
    main()
