"""Members datasets: band configurations, dropped sources counted, splits by class and cluster, validation."""

import json

import numpy as np
import pytest

from skysieve.config import ValidateParams
from skysieve.data import open_dataset, validate_dataset
from skysieve.errors import ConfigError, DataError
from skysieve.tasks.members.cutouts import assign_member_splits, make_members_cutouts
from skysieve.tasks.members.params import CutoutsMembersParams
from skysieve.tasks.members.validation import validate_members_dataset


def test_splits_are_stratified_within_each_cluster():
    rng = np.random.default_rng(0)
    clusters = np.repeat(["A", "B", "C"], [100, 60, 40])
    labels = (rng.random(200) < 0.45).astype(int)
    split = assign_member_splits(labels, clusters, val_frac=0.1, test_frac=0.2, seed=1)
    for c in "ABC":
        for y in (0, 1):
            sel = (clusters == c) & (labels == y)
            assert abs((split[sel] == "test").sum() - 0.2 * sel.sum()) <= 0.5
            assert abs((split[sel] == "val").sum() - 0.1 * sel.sum()) <= 0.5
    held = assign_member_splits(labels, clusters, val_frac=0.1, test_frac=0.2, leave_out=("C",), seed=1)
    assert (held[clusters == "C"] == "test").all() and not (held[clusters != "C"] == "test").any()


def test_mixed_cutouts_drop_and_count_sources_without_f140w(members_sim, tmp_path):
    sim_dir, truth = members_sim
    cat = make_members_cutouts(sim_dir, tmp_path / "cut", CutoutsMembersParams(band_config="mixed"))
    missing = int((~np.asarray(truth["has_F140W"])).sum())
    assert missing > 0 and cat.meta["NDROP"] == missing and len(cat) == len(truth) - missing
    ds = open_dataset(tmp_path / "cut")
    assert tuple(ds.channels) == ("F435W", "F606W", "F814W", "F105W", "F140W")
    assert np.isfinite(ds.read(np.arange(len(ds)))).all()
    assert set(np.char.strip(np.asarray(cat["cluster"]).astype(str))) == {"A383", "M0416", "M1149"}


def test_a_configuration_needing_unsimulated_bands_is_refused(members_sim, tmp_path):
    with pytest.raises(ConfigError, match="band_config=ACS needs .*F475W"):
        make_members_cutouts(members_sim[0], tmp_path / "acs", CutoutsMembersParams(band_config="ACS"))
    with pytest.raises(ConfigError, match="leave_out_clusters"):
        make_members_cutouts(members_sim[0], tmp_path / "x", CutoutsMembersParams(leave_out_clusters=("NOPE",)))
    with pytest.raises(DataError, match="simulate members"):
        make_members_cutouts(tmp_path / "nothing", tmp_path / "y", CutoutsMembersParams())
    assert not (tmp_path / "acs").exists()


def test_validation_passes_and_catches_a_wrong_pixel_scale(members_sim, members_cfg, tmp_path):
    make_members_cutouts(members_sim[0], tmp_path / "cut", CutoutsMembersParams(val_frac=0.2, test_frac=0.25))
    ds = open_dataset(tmp_path / "cut")
    channels = CutoutsMembersParams().channels
    vp = ValidateParams(label_rate_min=0.2, label_rate_max=0.7, min_positives=3, max_abs_pixel_uk=1e4)
    names = tuple(c.name for c in members_cfg.clusters)
    report = validate_dataset(ds, vp, expected_channels=channels, size_px=32)
    validate_members_dataset(ds, report, channels=channels, pixel_scale_arcsec=0.065, clusters=names,
                             velocity_cut_kms=3000.0, max_label_rate_gap=0.3)
    assert report.success, [f.__dict__ for f in report.failures]
    assert report.summary["dropped_missing_band"] > 0
    bad = validate_dataset(ds, vp, expected_channels=channels, size_px=32)
    validate_members_dataset(ds, bad, channels=channels, pixel_scale_arcsec=0.03, clusters=(*names, "A370"),
                             velocity_cut_kms=3000.0, max_label_rate_gap=0.3)
    failed = {(f.suite, f.column) for f in bad.failures}
    assert ("members_tensor", "pixel_arcsec") in failed
    assert ("members_clusters", "in_catalog") in failed
    assert "A370" in json.dumps([f.examples for f in bad.failures])
