"""The evaluate report on a tiny simulated set, scored with the true target maps as the "model"."""

import numpy as np
import pytest
import yaml
from astropy.table import Table
from typer.testing import CliRunner

from skysieve.cli import build_app
from skysieve.config import load_params
from skysieve.data import TargetReader, dense_targets, open_dataset
from skysieve.train import dihedral
from skysieve.tasks.detect.report import evaluate_detect, write_report

runner = CliRunner()


class _TargetMaps:
    """Answers each field with its own target maps: a perfect heatmap, peaks of exactly 1 at the centres.

    A field turned or mirrored (the evaluation's test-time augmentation) gets its target maps turned or
    mirrored the same way, the box's width and height swapped after a quarter turn: a perfect detector.
    """

    def __init__(self, dataset):
        self.images = np.asarray(dataset.read(np.arange(len(dataset))), dtype=np.float32)
        self.targets = np.asarray(TargetReader(dense_targets(dataset)).read(np.arange(len(dataset))),
                                  dtype=np.float32)

    def predict_on_batch(self, x):
        out = []
        for xi in np.asarray(x):
            for k in range(8):
                views = dihedral(self.images, k)
                hit = np.flatnonzero((views == xi).all(axis=(1, 2, 3)))
                if hit.size:
                    t = dihedral(self.targets[hit[:1]], k)[0]
                    out.append(t[..., [0, 2, 1]] if k % 2 else t)
                    break
            else:
                raise AssertionError("an image the dataset does not hold, in any orientation")
        return np.stack(out)


@pytest.fixture
def tiny(tmp_path):
    app = build_app()
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "simulate_detect": {"n_fields": 16, "native_size_px": 512, "bin": 8, "seed": 5, "blank_fraction": 0.2},
        "cutouts_detect": {"val_frac": 0.25, "test_frac": 0.375, "output_stride": 2},
        "evaluate_detect": {"n_boot": 50},
    }))
    sim, cut = tmp_path / "sim", tmp_path / "cutouts"
    steps = (["simulate", "detect", "--out", str(sim)], ["cutouts", "detect", "--sim", str(sim), "--out", str(cut)])
    for args in steps:
        result = runner.invoke(app, [*args, "-p", str(params), "--no-progress"])
        assert result.exit_code == 0, result.output
    return load_params(params), open_dataset(cut), Table.read(sim / "truth.fits")


def test_perfect_maps_give_a_stable_threshold_and_no_false_detection(tiny, tmp_path):
    p, ds, truth = tiny
    s = p.simulate_detect
    ev, _ = evaluate_detect(ds, [_TargetMaps(ds)], truth, cosmo=p.cosmology,
                            pixel_arcsec=s.native_pixel_arcsec * s.bin, stride=2, cfg=p.evaluate_detect)
    t = ev.test
    assert t["n_clusters"] > 0 and t["fp"] == 0 and t["precision"] == 1.0  # every peak sits on a cluster centre
    # every peak scores 1, so the F1 curve is flat: the first grid threshold, in every resample, and no oracle gain
    st = ev.extra["threshold_stability"]
    assert ev.threshold == 0.05 and set(st["val_threshold_pct"].values()) == {0.05}
    assert st["oracle_test_f1"] == pytest.approx(t["f1"])
    assert list(st["test_f1_at_resampled_pct"].values()) == pytest.approx([t["f1"]] * 3)
    by_z = ev.extra["recall_by_z"]
    assert sum(r["n"] for r in by_z) == t["n_clusters"] and sum(r["recovered"] for r in by_z) == t["tp"]
    m = ev.extra["massive"]  # massive recall with its interval from resampled fields beside Wilson's
    assert m["n"] > 0 and 0.0 <= m["field_lo"] <= m["recall"] <= m["field_hi"] <= 1.0
    write_report(ev, tmp_path / "report")
    text = (tmp_path / "report" / "table.md").read_text()
    assert "Threshold stability: over" in text and "(an oracle, not a result)" in text and "≤ z <" in text
    assert "fields resampled" in text and "D, rec vs missed" in text


class _ShiftedMaps(_TargetMaps):
    """Half the true heatmap plus a stronger copy 6 cells (12 px) to the side: a model that is sometimes wrong."""

    def predict_on_batch(self, x):
        t = super().predict_on_batch(x)
        out = 0.5 * t
        out[..., 0] = np.maximum(out[..., 0], 0.6 * np.roll(t[..., 0], 6, axis=2))
        return out


def test_the_validation_metric_is_the_validation_f1_evaluate_reports(tiny):
    # train_detect.monitor: detect.detection_f1 follows, epoch by epoch, the figure evaluate picks its threshold by
    from skysieve.tasks.detect.report import kpc_per_pixel, nms_radius_arcsec
    from skysieve.tasks.detect.selection import CLUSTERS_FILE, detection_f1_score

    p, ds, truth = tiny
    s = p.simulate_detect
    pixel = s.native_pixel_arcsec * s.bin
    model = _ShiftedMaps(ds)
    # the per-epoch metric scores one orientation (eight would cost most of an epoch); so does evaluate without TTA
    plain = p.evaluate_detect.model_copy(update={"tta": False})
    ev, _ = evaluate_detect(ds, [model], truth, cosmo=p.cosmology, pixel_arcsec=pixel, stride=2, cfg=plain)
    rows = ds.indices("val")
    value = detection_f1_score(model.predict_on_batch(ds.read(rows)), ds, rows)
    assert 0 < ev.val_f1 < 1 and value == pytest.approx(ev.val_f1, abs=1e-12)
    clusters = Table.read(ds.catalog_path.with_name(CLUSTERS_FILE))
    np.testing.assert_array_equal(clusters["field"], truth["field"])
    np.testing.assert_allclose(clusters["kpc_per_px"], kpc_per_pixel(np.asarray(truth["z"]), pixel_arcsec=pixel,
                                                                     cosmo=p.cosmology), rtol=1e-9)
    assert clusters.meta["NMSPX"] == pytest.approx(nms_radius_arcsec(p.evaluate_detect, cosmo=p.cosmology) / pixel)
    assert clusters.meta["MATCHKPC"] == p.evaluate_detect.match_kpc
