"""The detect validation metric (best-threshold detection F1 at 100 kpc) on a hand-made case with known matches."""

import multiprocessing

import h5py
import numpy as np
import pytest
from astropy.table import Table

from skysieve.data import open_dataset, write_dense_targets
from skysieve.data.dataset import IMAGES_KEY
from skysieve.errors import DataError
from skysieve.tasks.detect.params import EvaluateDetectParams
from skysieve.tasks.detect.selection import CLUSTERS_FILE, best_detection_f1, cluster_truth, detection_f1_score

STRIDE, CELLS = 2, 32  # 64-pixel fields, 32 × 32 heatmap cells; cell c is centred on pixel 2c + 0.5


def _px(cell: int) -> float:
    return (cell + 0.5) * STRIDE - 0.5


#: (field id, split, clusters as heatmap cells (cx, cy), peaks as (cx, cy, score)); every cluster at 10 kpc/px,
#: so 100 kpc is 10 px (5 cells), and peaks are merged within 8 px (4 cells).
FIELDS = [
    (10, "val", [(5, 5), (20, 20)], [(5, 5, 0.9), (7, 5, 0.7), (20, 20, 0.6)]),  # (7,5): 4 px from A → merged
    (11, "val", [(10, 10)], [(10, 10, 0.3), (16, 10, 0.8)]),  # (16,10): 12 px = 120 kpc from C → a false detection
    (12, "val", [], [(8, 24, 0.5)]),  # blank field, one false detection
    (13, "train", [(3, 3)], []),  # not among the rows scored: its missed cluster must not count
]


def _handmade(directory):
    """The fields above as a dataset (zero images, zero targets), its clusters.fits, and the model's output maps."""
    directory.mkdir(parents=True, exist_ok=True)
    n = len(FIELDS)
    maps = np.zeros((n, CELLS, CELLS, 3), np.float32)
    truth = []
    for k, (field, _, clusters, peaks) in enumerate(FIELDS):
        truth += [(field, _px(cx), _px(cy), 0.2) for cx, cy in clusters]
        for cx, cy, score in peaks:
            maps[k, cy, cx, 0] = score
    with h5py.File(directory / "cutouts.h5", "w") as h5:
        h5.create_dataset(IMAGES_KEY, data=np.zeros((n, 64, 64, 3), np.float32)).attrs["channels"] = ["g", "r", "i"]
        write_dense_targets(h5, np.zeros_like(maps), loss="centre_heatmap", stride=STRIDE,
                            channels=("heatmap", "log_width", "log_height"))
    Table({"id": [f[0] for f in FIELDS], "ra": np.zeros(n), "dec": np.zeros(n),
           "label": [int(bool(f[2])) for f in FIELDS], "split": [f[1] for f in FIELDS], "group": np.arange(n)}
          ).write(directory / "catalog.fits")
    truth = Table(rows=truth, names=("field", "x_px", "y_px", "z"))
    cluster_truth(truth, kpc_per_px=np.full(len(truth), 10.0), cfg=EvaluateDetectParams(), nms_px=8.0).write(
        directory / CLUSTERS_FILE)
    return open_dataset(directory), maps


def test_detection_f1_of_a_handmade_case(tmp_path):
    ds, maps = _handmade(tmp_path / "d")
    rows = ds.indices("val")
    # TPs score 0.9, 0.6, 0.3 (3 clusters), FPs 0.8, 0.5; the 0.7 peak is merged into the 0.9 one.
    # F1 = 2TP / (2TP + FP + FN) by threshold t: t ≤ 0.3 → 6/8; ≤ 0.5 → 4/7; ≤ 0.6 → 4/6; ≤ 0.8 → 2/5; ≤ 0.9 → 2/4.
    assert detection_f1_score(maps[rows], ds, rows) == pytest.approx(0.75)
    # were the merged peak kept (6/9), field 13's cluster counted (6/9) or the 120 kpc peak matched (it scores
    # above C's own 0.3 peak: TPs 0.9, 0.8, 0.6, FPs 0.5, 0.3 → 1 at 0.5 < t ≤ 0.6), the best F1 would differ:
    truth = Table.read(tmp_path / "d" / CLUSTERS_FILE)
    kw = {"stride": STRIDE, "match_kpc": 100.0, "min_score": 0.02, "max_detections": 20, "window": 3}
    fields = np.array([10, 11, 12])
    assert best_detection_f1(maps[rows], fields, truth, nms_px=8.0, **kw) == pytest.approx(0.75)
    assert best_detection_f1(maps[rows], fields, truth, nms_px=0.0, **kw) == pytest.approx(6 / 9)
    wider = {**kw, "match_kpc": 121.0}
    assert best_detection_f1(maps[rows], fields, truth, nms_px=8.0, **wider) == pytest.approx(1.0)
    everything = np.arange(len(FIELDS))
    assert detection_f1_score(maps, ds, everything) == pytest.approx(6 / 9)
    # no detection at all: F1 0; fields without clusters: undefined
    assert detection_f1_score(np.zeros_like(maps[rows]), ds, rows) == 0.0
    assert np.isnan(best_detection_f1(maps[[2]], np.array([12]), truth, nms_px=8.0, **kw))


def test_detection_f1_without_clusters_file_names_the_fix(tmp_path):
    ds, maps = _handmade(tmp_path / "d")
    (tmp_path / "d" / CLUSTERS_FILE).unlink()
    with pytest.raises(DataError, match=r"clusters.fits: not found; .*re-make the dataset with `skysieve cutouts "
                                        r"detect`"):
        detection_f1_score(maps, ds, np.arange(len(FIELDS)))


def test_a_fresh_process_finds_the_detect_metric_by_name(tmp_path):
    # the engine's folds may train in spawned workers: the metric is found from the search registry by name there
    from tests.train._probe import resolve_and_score

    ds, maps = _handmade(tmp_path / "d")
    rows = ds.indices("val")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        where, value = pool.apply(resolve_and_score, ("detect.detection_f1", maps[rows], str(tmp_path / "d"), rows))
    assert where == "skysieve.tasks.detect.selection:detection_f1_score"
    assert value == pytest.approx(0.75)


def test_peaks_below_the_lowest_threshold_are_skipped_without_changing_the_f1(tmp_path):
    # the metric decodes from the grid's lowest threshold up (cheaper); noisy maps give the same best F1
    # as decoding every peak down to min_score and taking the F1 curve's maximum
    from skysieve.tasks.detect.evaluate import THRESHOLD_GRID, decode_maps, f1_curve, match_detections

    ds, handmade = _handmade(tmp_path / "d")
    truth = Table.read(tmp_path / "d" / CLUSTERS_FILE)
    noise = np.random.default_rng(4).uniform(0, 0.07, handmade.shape).astype(np.float32)
    maps = np.maximum(handmade, noise)  # the hand-made peaks on a floor of weak ones
    fields = np.array([f[0] for f in FIELDS])
    det = decode_maps(maps, stride=STRIDE, min_score=0.02, max_detections=500, window=3, nms_px=2.0)
    det["image"] = fields[np.asarray(det["image"])]
    tr = Table({"image": truth["field"], "x_px": truth["x_px"], "y_px": truth["y_px"]})
    m = match_detections(det, tr, kpc_per_px=np.asarray(truth["kpc_per_px"]), match_kpc=100.0)
    assert (np.asarray(det["score"]) < THRESHOLD_GRID[0]).sum() > 10  # there were peaks to skip
    expected = f1_curve(np.asarray(det["score"]), m.det_cluster, len(tr), THRESHOLD_GRID).max()
    got = best_detection_f1(maps, fields, truth, stride=STRIDE, match_kpc=100.0, min_score=0.02, max_detections=500,
                            window=3, nms_px=2.0)
    assert expected > 0 and got == expected
